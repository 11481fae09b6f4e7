/* cmd_volunteer: kring volunteer add|set|show|list|search. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "crdt/err.h"
#include "crdt/mp.h"
#include "node/validate.h"

static const char usage_add[] =
  "kring volunteer add --name N [--email E] [--phone P] [--postcode C] [--city C] "
  "[--birth-year Y] [--skill S]... [--language L]... [--availability A]... [--note T]";
static const char usage_set[] =
  "kring volunteer set VOLUNTEER FIELD=VALUE... [--add FIELD=VALUE]... [--remove FIELD=VALUE]...";
static const char usage_list[] =
  "kring volunteer list [--skill S] [--language L] [--city C] [--available A]";

static const char field_list[] =
  "name, email, phone, postcode, city, birth_year, home_org, notes, vog_checked_on, "
  "vog_checked_by, vog_meets_requirements; lists: skills, languages, availability, "
  "organisations, placements";

static int edit_fail(int rc, const char *field, const char *value, const char *why)
{
  char what[256];
  snprintf(what, sizeof what, "%s '%s'", field, cli_safe(value, -1));
  if (rc == KR_EBSN)
    return cli_fail(_("%s: looks like a BSN (citizen service number); kring never stores one"), what);
  if (rc == KR_ENOTFOUND && why) return cli_fail("%s: %s", what, cli_why(why));
  return cli_fail_kr(rc, what, why);
}

static int vol_add(int argc, char **argv)
{
  enum { NAME, EMAIL, PHONE, POSTCODE, CITY, BIRTH, SKILL, LANG, AVAIL, NOTE, NOPT };
  static const int code[NOPT] = {KR_F_NAME, KR_F_EMAIL, KR_F_PHONE, KR_F_POSTCODE, KR_F_CITY,
                                 KR_F_BIRTH_YEAR, KR_F_SKILLS, KR_F_LANGUAGES, KR_F_AVAILABILITY,
                                 KR_F_NOTES};
  cli_opt o[NOPT] = {{"name", 1, 0, NULL, 0},     {"email", 1, 0, NULL, 0},
                     {"phone", 1, 0, NULL, 0},    {"postcode", 1, 0, NULL, 0},
                     {"city", 1, 0, NULL, 0},     {"birth-year", 1, 0, NULL, 0},
                     {"skill", 1, 1, NULL, 0},    {"language", 1, 1, NULL, 0},
                     {"availability", 1, 1, NULL, 0}, {"note", 1, 0, NULL, 0}};
  const char **pos = calloc((size_t)argc + 1, sizeof *pos);
  size_t npos;
  kr_node *n = NULL;
  kr_txn *t = NULL;
  uint8_t id[KR_SUBJECT_LEN];
  char hex[33];
  int rc;

  if (!pos) return cli_fail(_("out of memory"));
  if ((rc = cli_parse(argc, argv, o, NOPT, pos, &npos, usage_add))) goto out;
  if (npos) { rc = cli_usage(usage_add, _("unexpected argument '%s'"), pos[0]); goto out; }
  if (!cli_val(&o[NAME])) { rc = cli_usage(usage_add, _("--name is required")); goto out; }
  if ((rc = cli_open(&n))) goto out;
  if ((rc = kr_txn_begin(n, &t))) { rc = cli_fail_write(rc, _("cannot store the change")); goto out; }
  kr_txn_new_subject(t, id);
  for (int i = 0; i < NOPT; i++)
    for (size_t j = 0; j < o[i].n; j++) {
      const char *why = NULL;
      int e = kr_field_is_set(code[i]) ? kr_txn_add(t, id, code[i], o[i].vals[j], &why)
                                       : kr_txn_set(t, id, code[i], o[i].vals[j], &why);
      if (e) { rc = edit_fail(e, o[i].name, o[i].vals[j], why); goto out; }
    }
  rc = kr_txn_commit(t, NULL);
  t = NULL;
  if (rc) { rc = cli_fail_write(rc, _("cannot store the volunteer")); goto out; }
  cli_hex(id, KR_SUBJECT_LEN, hex);
  if (cli_json) rc = cli_print_json(json_pack("{s:s}", "id", hex));
  else printf("%s\n", hex);
out:
  kr_txn_abort(t);
  kr_node_close(n);
  for (int i = 0; i < NOPT; i++) free(o[i].vals);
  free(pos);
  return rc;
}

/* Split FIELD=VALUE; returns the field code or prints why not. */
static int split_assign(const char *arg, char *field, size_t cap, const char **value)
{
  const char *eq = strchr(arg, '=');
  int code;
  if (!eq || eq == arg || (size_t)(eq - arg) >= cap) {
    cli_usage(usage_set, _("expected FIELD=VALUE, got '%s'"), arg);
    return -2;
  }
  memcpy(field, arg, (size_t)(eq - arg));
  field[eq - arg] = 0;
  *value = eq + 1;
  for (char *c = field; *c; c++) if (*c == '-') *c = '_';
  if ((code = kr_field_code(field)) < 0) {
    cli_fail(_("unknown field '%s' (fields: %s)"), field, field_list);
    return -1;
  }
  return code;
}

/*
 * A value written here shows only if its stamp is the latest for the
 * field. A change stamped later (another node's edit made after this one
 * by the clock, or a clock set ahead, within the 10 minutes a node
 * accepts) holds the field: say so, rather than "updated" alone. lost
 * (JSON) collects the fields; NULL prints a line per field.
 */
/* The origin and hlc of the first change in wire (the edit's own; the
 * keys the end of the transaction sends readers follow it): 0, or -1. */
static int first_stamp(const kr_buf *wire, uint8_t origin[KR_NODE_LEN], kr_hlc *hlc)
{
  kr_mp r, h;
  const uint8_t *hdr;
  uint32_t n, hlen;
  uint64_t v;

  kr_mp_init(&r, wire->data, wire->len);
  if (kr_mp_array(&r, &n) || n != 3 || kr_mp_bin(&r, &hdr, &hlen)) return -1;
  kr_mp_init(&h, hdr, hlen);
  if (kr_mp_array(&h, &n) || kr_mp_uint(&h, &v) || kr_mp_bin_fixed(&h, origin, KR_NODE_LEN) ||
      kr_mp_uint(&h, &v) || kr_mp_uint(&h, &v))
    return -1;
  *hlc = (kr_hlc)v;
  return 0;
}

static void outvoted(kr_node *n, const uint8_t id[KR_SUBJECT_LEN], const char *const *assign,
                     size_t nassign, const kr_buf *wire, json_t *lost)
{
  struct { uint8_t origin[KR_NODE_LEN]; kr_hlc hlc; } c;

  if (first_stamp(wire, c.origin, &c.hlc)) return;
  for (size_t i = 0; i < nassign; i++) {
    char field[64], who[80], t[32];
    const char *value;
    kr_stamp st;
    kr_volunteer v;
    int code = split_assign(assign[i], field, sizeof field, &value);
    if (code < 0 || kr_node_field_stamp(n, id, code, &st)) continue;
    if (st.hlc == c.hlc && !memcmp(st.origin, c.origin, KR_NODE_LEN)) continue;
    if (lost) {
      json_array_append_new(lost, json_string(kr_field_name(code)));
      continue;
    }
    cli_node_name(n, st.origin, who);
    cli_time(st.hlc, 0, t);
    if (kr_node_volunteer(n, id, &v)) continue;
    printf(_("but %s still shows '%s': a change by %s stamped %s, later than this one, holds the "
           "field.\nIf that time is wrong, ask %s to set their clock right; else edit again.\n"),
           kr_field_name(code), cli_safe(v.val.v[code] ? v.val.v[code] : "", -1), who, t, who);
    kr_volunteer_free(&v);
  }
}

static int vol_set(int argc, char **argv)
{
  cli_opt o[] = {{"add", 1, 1, NULL, 0}, {"remove", 1, 1, NULL, 0}};
  const char **pos = calloc((size_t)argc + 1, sizeof *pos);
  kr_buf wire = {0};
  size_t npos;
  kr_node *n = NULL;
  kr_txn *t = NULL;
  uint8_t id[KR_SUBJECT_LEN];
  char field[64];
  int rc;

  if (!pos) return cli_fail(_("out of memory"));
  if ((rc = cli_parse(argc, argv, o, 2, pos, &npos, usage_set))) goto out;
  if (npos < 1) { rc = cli_usage(usage_set, _("which volunteer? Give the name, the e-mail or the id")); goto out; }
  if (npos == 1 && !o[0].n && !o[1].n) { rc = cli_usage(usage_set, _("nothing to change")); goto out; }
  if ((rc = cli_open(&n))) goto out;
  if ((rc = cli_subject(n, pos[0], id))) goto out;
  if ((rc = kr_txn_begin(n, &t))) { rc = cli_fail_write(rc, _("cannot store the change")); goto out; }
  for (size_t i = 1; i < npos; i++) {
    const char *value, *why = NULL;
    int code = split_assign(pos[i], field, sizeof field, &value), e;
    if (code < 0) { rc = code == -2 ? CLI_USAGE : CLI_FAIL; goto out; }
    if (kr_field_is_set(code)) {
      rc = cli_fail(_("%s is a list; change it with --add %s=VALUE or --remove %s=VALUE"),
                    kr_field_name(code), field, field);
      goto out;
    }
    if ((e = kr_txn_set(t, id, code, value[0] ? value : NULL, &why))) {
      rc = e == KR_EERASED ? cli_fail(_("volunteer %s has been erased"), pos[0])
                           : edit_fail(e, kr_field_name(code), value, why);
      goto out;
    }
  }
  for (int k = 0; k < 2; k++)
    for (size_t i = 0; i < o[k].n; i++) {
      const char *value, *why = NULL;
      int code = split_assign(o[k].vals[i], field, sizeof field, &value), e;
      if (code < 0) { rc = code == -2 ? CLI_USAGE : CLI_FAIL; goto out; }
      if (!kr_field_is_set(code)) {
        rc = cli_fail(_("%s holds one value; set it with %s=VALUE"), kr_field_name(code), field);
        goto out;
      }
      e = k == 0 ? kr_txn_add(t, id, code, value, &why) : kr_txn_remove(t, id, code, value, &why);
      if (e) {
        rc = e == KR_EERASED ? cli_fail(_("volunteer %s has been erased"), pos[0])
                             : edit_fail(e, kr_field_name(code), value, why);
        goto out;
      }
    }
  kr_buf_init(&wire, KR_CHANGE_MAX);
  rc = kr_txn_commit(t, &wire);
  t = NULL;
  if (rc) { rc = cli_fail_write(rc, _("cannot store the change")); goto out; }
  if (cli_json) {
    json_t *lost = json_array();
    outvoted(n, id, pos + 1, npos - 1, &wire, lost);
    rc = cli_print_json(json_pack("{s:b, s:o}", "ok", 1, "not_shown", lost));
  } else {
    printf(_("updated %s\n"), pos[0]);
    outvoted(n, id, pos + 1, npos - 1, &wire, NULL);
  }
out:
  kr_buf_free(&wire);
  kr_txn_abort(t);
  kr_node_close(n);
  for (int i = 0; i < 2; i++) free(o[i].vals);
  free(pos);
  return rc;
}

json_t *cli_volunteer_json(kr_node *n, const kr_volunteer *v)
{
  json_t *j = json_object();
  char hex[65], t[32];

  cli_hex(v->id, KR_SUBJECT_LEN, hex);
  json_object_set_new(j, "id", json_string(hex));
  if (v->erased) {
    cli_hex(v->erased_at.origin, KR_NODE_LEN, hex);
    cli_time(v->erased_at.hlc, 1, t);
    json_object_set_new(j, "erased", json_pack("{s:s, s:s, s:s?}", "at", t, "by", hex,
                                                "reason", v->erase_reason));
    return j;
  }
  for (int f = 1; f < 32; f++)
    if (v->val.v[f]) json_object_set_new(j, kr_field_name(f), json_string(v->val.v[f]));
  for (int f = 0; f < 32; f++) {
    json_t *a;
    if (!kr_field_name(f + 32)) continue;
    a = json_array();
    for (size_t k = 0; k < v->val.set[f].n; k++) json_array_append_new(a, json_string(v->val.set[f].v[k]));
    json_object_set_new(j, kr_field_name(f + 32), a);
  }
  (void)n;
  return j;
}

static int vol_show(int argc, char **argv)
{
  kr_node *n;
  kr_volunteer v;
  json_t *readers = NULL;
  uint8_t id[KR_SUBJECT_LEN];
  int rc;

  if (argc != 1) return cli_usage("kring volunteer show VOLUNTEER   (a name, an e-mail or an id)", argc ? _("too many arguments (put a name of several words in quotes)") : _("which volunteer? Give the name, the e-mail or the id"));
  if ((rc = cli_open(&n))) return rc;
  if ((rc = cli_subject(n, argv[0], id))) goto out;
  if ((rc = kr_node_volunteer(n, id, &v))) {
    rc = rc == KR_ESEALED ? cli_sealed(argv[0]) : cli_fail(_("reading %s: %s"), argv[0], cli_strerror(rc));
    goto out;
  }
  if (!v.erased && !(readers = cli_readers_json(n, id, &rc))) {
    rc = rc == KR_ESEALED ? cli_sealed(argv[0]) : cli_fail(_("reading %s: %s"), argv[0], cli_strerror(rc));
    kr_volunteer_free(&v);
    goto out;
  }
  if (cli_json) {
    json_t *j = cli_volunteer_json(n, &v);
    if (!v.erased) {
      json_object_set_new(j, "consent", cli_consent_json(n, id, 0));
      json_object_set(j, "readers", readers);
    }
    rc = cli_print_json(j);
  } else {
    char hex[33], t[32], who[80];
    cli_hex(id, KR_SUBJECT_LEN, hex);
    printf("%-24s %s\n", "id", hex);
    if (v.erased) {
      cli_time(v.erased_at.hlc, 0, t);
      cli_node_name(n, v.erased_at.origin, who);
      printf(_("%-24s %s by %s: %s\n"), "erased", t, who, cli_safe(v.erase_reason, -1));
    } else {
      for (int f = 1; f < 32; f++)
        if (v.val.v[f])
          printf("%-24s %s\n", kr_field_name(f), cli_safe(v.val.v[f], f == KR_F_NOTES ? 25 : -1));
      for (int f = 0; f < 32; f++) {
        if (!v.val.set[f].n) continue;
        printf("%-24s ", kr_field_name(f + 32));
        for (size_t k = 0; k < v.val.set[f].n; k++)
          printf("%s%s", k ? ", " : "", cli_safe(v.val.set[f].v[k], -1));
        printf("\n");
      }
      {
        json_t *c = cli_consent_json(n, id, 0);
        size_t i;
        json_t *e;
        json_array_foreach(c, i, e)
          printf(_("%-24s %s to %s: %s\n"), i ? "" : "consent",
                 cli_safe(json_string_value(json_object_get(e, "purpose")), -1),
                 cli_safe(json_string_value(json_object_get(e, "to")), -1),
                 cli_safe(json_string_value(json_object_get(e, "state")), -1));
        json_decref(c);
      }
      {
        /* who reads this volunteer, and why: whom an access request names */
        char line[512];
        size_t i;
        json_t *r;
        json_array_foreach(readers, i, r)
          printf("%-24s %s\n", i ? "" : "readers", cli_reader_text(r, line, sizeof line));
      }
    }
  }
  kr_volunteer_free(&v);
out:
  json_decref(readers);
  kr_node_close(n);
  return rc;
}

struct list_ctx {
  kr_node *n;
  json_t *arr;
  size_t count;
};

static int list_row(void *ctx, const uint8_t id[KR_SUBJECT_LEN])
{
  struct list_ctx *l = ctx;
  kr_volunteer v;
  char hex[33];
  int rc = kr_node_volunteer(l->n, id, &v);

  if (rc || v.erased) {
    kr_volunteer_free(&v);
    return rc;      /* a volunteer that cannot be read fails the list */
  }
  l->count++;
  if (l->arr) {
    json_array_append_new(l->arr, cli_volunteer_json(l->n, &v));
  } else {
    cli_hex(id, KR_SUBJECT_LEN, hex);
    printf("%s  %-28s %-16s ", hex, cli_safe(v.val.v[KR_F_NAME], -1),
           cli_safe(v.val.v[KR_F_CITY], -1));
    for (size_t k = 0; k < v.val.set[0].n; k++)
      printf("%s%s", k ? ", " : "", cli_safe(v.val.set[0].v[k], -1));
    printf("\n");
  }
  kr_volunteer_free(&v);
  return 0;
}

static int vol_list(int argc, char **argv)
{
  cli_opt o[] = {{"skill", 1, 0, NULL, 0}, {"language", 1, 0, NULL, 0},
                 {"city", 1, 0, NULL, 0}, {"available", 1, 0, NULL, 0}};
  const char **pos = calloc((size_t)argc + 1, sizeof *pos);
  size_t npos;
  struct list_ctx l = {NULL, NULL, 0};
  kr_filter f = {NULL, NULL, NULL, NULL};
  char slot[64];
  int rc;

  if (!pos) return cli_fail(_("out of memory"));
  if ((rc = cli_parse(argc, argv, o, 4, pos, &npos, usage_list))) goto out;
  if (npos) { rc = cli_usage(usage_list, _("unexpected argument '%s'"), pos[0]); goto out; }
  f.skill = cli_val(&o[0]);
  f.language = cli_val(&o[1]);
  f.city = cli_val(&o[2]);
  if (cli_val(&o[3])) {
    const char *why;
    if (kr_normalise_field(KR_F_AVAILABILITY, cli_val(&o[3]), slot, sizeof slot, 0, &why)) {
      rc = cli_usage(usage_list, _("--available takes ma-ochtend ... zo-avond (or mon-am ... sun-ev)"));
      goto out;
    }
    f.available = slot;
  }
  if ((rc = cli_open(&l.n))) goto out;
  if (cli_json) l.arr = json_array();
  if ((rc = kr_node_list(l.n, &f, list_row, &l))) {
    rc = cli_fail(_("listing: %s"), cli_strerror(rc));
  } else if (l.arr) {
    rc = cli_print_json(l.arr);
    l.arr = NULL;
  } else {
    fprintf(stderr, ngettext("%zu volunteer\n", "%zu volunteers\n", l.count), l.count);
  }
out:
  json_decref(l.arr);
  kr_node_close(l.n);
  for (int i = 0; i < 4; i++) free(o[i].vals);
  free(pos);
  return rc;
}

static int vol_search(int argc, char **argv)
{
  struct list_ctx l = {NULL, NULL, 0};
  char text[1024] = "";
  int rc;

  if (argc < 1) return cli_usage("kring volunteer search TEXT", _("missing TEXT"));
  for (int i = 0; i < argc; i++) {
    if (strlen(text) + strlen(argv[i]) + 2 > sizeof text)
      return cli_usage("kring volunteer search TEXT", _("search text too long"));
    if (i) strcat(text, " ");
    strcat(text, argv[i]);
  }
  if ((rc = cli_open(&l.n))) return rc;
  if (cli_json) l.arr = json_array();
  rc = kr_node_search(l.n, text, list_row, &l);
  if (rc == KR_EINVAL) rc = cli_usage("kring volunteer search TEXT", _("nothing to search for"));
  else if (rc) rc = cli_fail(_("searching: %s"), cli_strerror(rc));
  else if (l.arr) rc = cli_print_json(l.arr), l.arr = NULL;
  else fprintf(stderr, ngettext("%zu volunteer\n", "%zu volunteers\n", l.count), l.count);
  json_decref(l.arr);
  kr_node_close(l.n);
  return rc;
}

int cmd_volunteer(int argc, char **argv)
{
  static const struct { const char *name; int (*run)(int, char **); } sub[] = {
    {"add", vol_add}, {"set", vol_set}, {"show", vol_show}, {"list", vol_list}, {"search", vol_search},
  };
  if (argc < 1)
    return cli_usage("kring volunteer add|set|show|list|search ...", _("missing subcommand"));
  for (size_t i = 0; i < sizeof sub / sizeof sub[0]; i++)
    if (strcmp(argv[0], sub[i].name) == 0)
      return sub[i].run(argc - 1, argv + 1);
  return cli_usage("kring volunteer add|set|show|list|search ...", _("unknown subcommand '%s'"), argv[0]);
}
