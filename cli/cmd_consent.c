/* cmd_consent: kring consent grant|withdraw|show. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "cli/cli.h"
#include "crdt/err.h"
#include "node/validate.h"

static const char usage_grant[] =
  "kring consent grant VOLUNTEER --purpose P --to ORG|all --method papier|mondeling|digitaal "
  "[--text-version V] [--until YYYY-MM-DD]";
static const char usage_withdraw[] =
  "kring consent withdraw VOLUNTEER --purpose P --to ORG|all [--method papier|mondeling|digitaal]";

/* A method in Dutch or English (any case) as its code, or -1. */
static int method_code(const char *m)
{
  static const struct { const char *name; int code; } nl[] = {
    {"papier", KR_METHOD_PAPER}, {"schriftelijk", KR_METHOD_PAPER},
    {"mondeling", KR_METHOD_VERBAL}, {"digitaal", KR_METHOD_DIGITAL},
    {"onbekend", KR_METHOD_UNSPECIFIED},
  };
  char low[32];
  size_t i;

  for (i = 0; m[i] && i + 1 < sizeof low; i++) low[i] = (char)tolower((unsigned char)m[i]);
  low[i] = 0;
  for (i = 0; i < sizeof nl / sizeof nl[0]; i++)
    if (strcmp(low, nl[i].name) == 0) return nl[i].code;
  return kr_method_code(low);
}

struct has_register {
  const uint8_t *recipient;
  int found;
};

static int register_row(void *ctx, const kr_consent_status *s)
{
  struct has_register *h = ctx;
  if (!s->all && memcmp(s->recipient, h->recipient, KR_NODE_LEN) == 0) h->found = 1;
  return 0;
}

/*
 * all -> NULL recipient; this node, a member by organisation name, node id
 * or id prefix. Consent is granted to a current member only: a node that
 * is not one could never read the volunteer. A withdrawal may name a
 * removed member too, or any node the volunteer's consent names.
 */
static int recipient(kr_node *n, const char *to, const uint8_t subject[KR_SUBJECT_LEN],
                     int grant, uint8_t out[KR_NODE_LEN], int *all)
{
  char names[512], name[80];
  int removed = 0, rc;

  *all = 0;
  if (strcasecmp(to, "all") == 0) { *all = 1; return 0; }
  if (strcasecmp(to, kr_node_org(n)) == 0 || strcmp(to, "self") == 0) {
    memcpy(out, kr_node_id(n), KR_NODE_LEN);
    return 0;
  }
  if (cli_unhex(to, out, KR_NODE_LEN) == 0) {
    struct has_register h = {out, 0};
    if (kr_node_is_member(n, out) == 1) return 0;
    removed = kr_node_is_removed(n, out) == 1;
    if (!grant && (removed || (kr_node_consent(n, subject, register_row, &h) == 0 && h.found)))
      return 0;
    cli_member_names(n, names, sizeof names);
    if (!removed && grant)
      return cli_fail(_("no member with node id %.12s... in this network; consent goes to all or "
                      "to a member: %s"), to, names);
    if (!removed)
      return cli_fail(_("no member with node id %.12s... in this network, and no consent of this "
                      "volunteer names it; the members are: %s"), to, names);
  } else if ((rc = cli_member(n, to, out, &removed))) {
    return rc;
  } else if (!removed || !grant) {
    return 0;
  }
  cli_member_names(n, names, sizeof names);
  cli_node_name(n, out, name);
  return cli_fail(_("%s was removed from the network, so consent cannot go to it; consent goes to "
                  "all or to a member: %s"), name, names);
}

static void to_name(kr_node *n, int all, const uint8_t *r, char out[80])
{
  if (all) snprintf(out, 80, "all");
  else cli_node_name(n, r, out);
}

static int consent_edit(int argc, char **argv, int grant)
{
  const char *usage = grant ? usage_grant : usage_withdraw;
  cli_opt o[] = {{"purpose", 1, 0, NULL, 0}, {"to", 1, 0, NULL, 0}, {"method", 1, 0, NULL, 0},
                 {"text-version", 1, 0, NULL, 0}, {"until", 1, 0, NULL, 0}};
  size_t nopt = grant ? 5 : 4;
  const char **pos = calloc((size_t)argc + 1, sizeof *pos);
  size_t npos;
  kr_node *n = NULL;
  kr_txn *t = NULL;
  uint8_t id[KR_SUBJECT_LEN], r[KR_NODE_LEN];
  int rc, all, method = KR_METHOD_UNSPECIFIED, e;
  const char *why = NULL, *until = NULL;

  if (!pos) return cli_fail(_("out of memory"));
  if ((rc = cli_parse(argc, argv, o, nopt, pos, &npos, usage))) goto out;
  if (npos != 1) { rc = cli_usage(usage, npos ? _("too many arguments (put a name of several words in quotes)") : _("which volunteer? Give the name, the e-mail or the id")); goto out; }
  if (!cli_val(&o[0])) { rc = cli_usage(usage, _("--purpose is required")); goto out; }
  if (!cli_val(&o[1])) { rc = cli_usage(usage, _("--to ORG|all is required")); goto out; }
  if (grant && !cli_val(&o[2])) {
    /* GDPR art. 7(1): the organisation must be able to show how consent was given */
    rc = cli_usage(usage, _("--method is required: how did the volunteer give consent? papier "
                          "(a signed form), mondeling (spoken) or digitaal (a form or e-mail); "
                          "if nobody knows, say so with --method onbekend"));
    goto out;
  }
  if (cli_val(&o[2]) && (method = method_code(cli_val(&o[2]))) < 0) {
    rc = cli_usage(usage, _("unknown method '%s': give papier, mondeling or digitaal (paper, "
                          "verbal or digital), or onbekend (unspecified)"), cli_val(&o[2]));
    goto out;
  }
  if (cli_val(&o[3]) && kr_text_single_ok(cli_val(&o[3]), strlen(cli_val(&o[3])), &why)) {
    rc = cli_fail("--text-version '%s': %s", cli_val(&o[3]), cli_why(why));
    goto out;
  }
  if (grant && (until = cli_val(&o[4]))) {
    char today[11];
    time_t now = time(NULL);
    struct tm tm;
    localtime_r(&now, &tm);
    strftime(today, sizeof today, "%Y-%m-%d", &tm);
    if (strlen(until) == 10 && strcmp(until, today) < 0) {
      rc = cli_fail(_("--until %s is in the past; the grant would be expired at once"), until);
      goto out;
    }
  }
  if ((rc = cli_open(&n))) goto out;
  /* a grant names a purpose of the network's list (a typo is no new
   * purpose); a withdrawal may name any: history may hold old ones */
  if (grant && (rc = cli_purpose_known(n, cli_val(&o[0])))) goto out;
  if ((rc = cli_subject(n, pos[0], id))) goto out;
  if ((rc = recipient(n, cli_val(&o[1]), id, grant, r, &all))) goto out;
  if ((rc = kr_txn_begin(n, &t))) { rc = cli_fail_write(rc, _("cannot record the consent")); goto out; }
  e = grant ? kr_txn_grant(t, id, cli_val(&o[0]), all ? NULL : r, method, cli_val(&o[3]),
                           until ? until : "", &why)
            : kr_txn_withdraw(t, id, cli_val(&o[0]), all ? NULL : r, method, "", &why);
  if (e) {
    rc = e == KR_EERASED ? cli_fail(_("volunteer %s has been erased"), pos[0])
       : e == KR_EBSN ? cli_fail(_("text version looks like a BSN; kring never stores one"))
                      : cli_fail_kr(e, grant ? "grant" : "withdraw", why);
    goto out;
  }
  rc = kr_txn_commit(t, NULL);
  t = NULL;
  if (rc) { rc = cli_fail_write(rc, _("cannot store the consent")); goto out; }
  if (cli_json) rc = cli_print_json(json_pack("{s:b}", "ok", 1));
  else printf(grant ? _("granted %s for %s to %s\n") : _("withdrew %s for %s to %s\n"), cli_safe(cli_val(&o[0]), -1),
              cli_safe(pos[0], -1), cli_safe(cli_val(&o[1]), -1));
out:
  kr_txn_abort(t);
  kr_node_close(n);
  for (size_t i = 0; i < 5; i++) free(o[i].vals);
  free(pos);
  return rc;
}

struct cj {
  kr_node *n;
  json_t *arr;
};

static int status_row(void *ctx, const kr_consent_status *s)
{
  struct cj *c = ctx;
  char to[80], t[32], hex[65];
  json_t *j;

  to_name(c->n, s->all, s->recipient, to);
  j = json_pack("{s:s, s:s, s:s}", "purpose", s->purpose, "to", to, "state",
                kr_consent_state_name(s->state));
  if (!s->all) {
    cli_hex(s->recipient, KR_NODE_LEN, hex);
    json_object_set_new(j, "to_node", json_string(hex));
  }
  if (s->has_grant) {
    cli_time(s->granted_at.hlc, 1, t);
    cli_hex(s->granted_at.origin, KR_NODE_LEN, hex);
    json_object_set_new(j, "grant", json_pack("{s:s, s:s, s:s, s:s, s:s}", "at", t, "by", hex,
                                              "method", kr_method_name(s->method),
                                              "text_version", s->text_version ? s->text_version : "",
                                              "until", s->until ? s->until : ""));
  }
  json_array_append_new(c->arr, j);
  return 0;
}

static int history_row(void *ctx, const kr_consent_event *e)
{
  struct cj *c = ctx;
  char to[80], t[32], hex[65];

  to_name(c->n, e->all, e->recipient, to);
  cli_time(e->at.hlc, 1, t);
  cli_hex(e->at.origin, KR_NODE_LEN, hex);
  json_array_append_new(c->arr, json_pack("{s:s, s:s, s:s, s:s, s:s, s:I, s:s, s:s, s:s}",
                                          "action", e->is_grant ? "grant" : "withdraw",
                                          "purpose", e->purpose, "to", to, "at", t,
                                          "by", hex, "seq", (json_int_t)e->seq,
                                          "method", kr_method_name(e->method),
                                          "text_version", e->text_version, "until", e->until));
  return 0;
}

json_t *cli_consent_json(kr_node *n, const uint8_t id[static KR_SUBJECT_LEN], int history)
{
  struct cj c = {n, json_array()};
  if (history) kr_node_consent_history(n, id, history_row, &c);
  else kr_node_consent(n, id, status_row, &c);
  return c.arr;
}

/* ---- who reads a volunteer, and why ---------------------------------------- */

struct rj {
  kr_node *n;
  json_t *arr;
};

static int reader_row(void *ctx, const kr_reader *r)
{
  struct rj *x = ctx;
  char hex[65], org[KR_ORG_MAX + 1] = "";
  json_t *j;

  cli_hex(r->node, KR_NODE_LEN, hex);
  if (memcmp(r->node, kr_node_id(x->n), KR_NODE_LEN) == 0)
    snprintf(org, sizeof org, "%s", kr_node_org(x->n));
  else if (kr_node_member_org(x->n, r->node, org, sizeof org) != 1)
    org[0] = 0;
  j = json_pack("{s:s, s:s}", "node", hex, "org", org);
  if (r->registrar) {
    json_object_set_new(j, "reason", json_string("registered"));
  } else {
    json_object_set_new(j, "reason", json_string("consent"));
    json_object_set_new(j, "purpose", json_string(r->purpose ? r->purpose : ""));
    json_object_set_new(j, "to", json_string(r->all ? "all" : "member"));
    json_object_set_new(j, "until", json_string(r->until ? r->until : ""));
  }
  json_array_append_new(x->arr, j);
  return 0;
}

json_t *cli_readers_json(kr_node *n, const uint8_t id[static KR_SUBJECT_LEN], int *err)
{
  struct rj x = {n, json_array()};
  if (!x.arr) {
    *err = KR_ENOMEM;
    return NULL;
  }
  if ((*err = kr_node_readers(n, id, reader_row, &x))) {
    json_decref(x.arr);
    return NULL;
  }
  return x.arr;
}

const char *cli_reader_text(const json_t *r, char *out, size_t cap)
{
  const char *org = json_string_value(json_object_get(r, "org"));
  const char *until = json_string_value(json_object_get(r, "until"));
  char who[80];
  int all;

  if (org && org[0]) snprintf(who, sizeof who, "%s", cli_safe(org, -1));
  else snprintf(who, sizeof who, "%.12s", json_string_value(json_object_get(r, "node")));
  if (strcmp(json_string_value(json_object_get(r, "reason")), "registered") == 0) {
    snprintf(out, cap, _("%s: registered it"), who);
    return out;
  }
  all = strcmp(json_string_value(json_object_get(r, "to")), "all") == 0;
  if (until && until[0])
    snprintf(out, cap, all ? _("%s: consent for %s (to all members) until %s")
                           : _("%s: consent for %s (to this organisation) until %s"),
             who, cli_safe(json_string_value(json_object_get(r, "purpose")), -1),
             cli_safe(until, -1));
  else
    snprintf(out, cap, all ? _("%s: consent for %s (to all members)")
                           : _("%s: consent for %s (to this organisation)"),
             who, cli_safe(json_string_value(json_object_get(r, "purpose")), -1));
  return out;
}

static int consent_show(int argc, char **argv)
{
  kr_node *n;
  uint8_t id[KR_SUBJECT_LEN];
  json_t *cur, *hist, *e;
  size_t i;
  int rc;

  if (argc != 1) return cli_usage("kring consent show VOLUNTEER   (a name, an e-mail or an id)", argc ? _("too many arguments (put a name of several words in quotes)") : _("which volunteer? Give the name, the e-mail or the id"));
  if ((rc = cli_open(&n))) return rc;
  if ((rc = cli_subject(n, argv[0], id))) goto out;
  {
    /* An erased volunteer's consent went with the rest: show the marker
     * where the history was. */
    kr_volunteer v;
    if ((rc = kr_node_volunteer(n, id, &v))) {
      rc = rc == KR_ESEALED ? cli_sealed(argv[0]) : cli_fail(_("reading %s: %s"), argv[0], cli_strerror(rc));
      goto out;
    }
    if (v.erased) {
      char t[32], who[80], hex[65];
      if (cli_json) {
        cli_time(v.erased_at.hlc, 1, t);
        cli_hex(v.erased_at.origin, KR_NODE_LEN, hex);
        rc = cli_print_json(json_pack("{s:[], s:[], s:{s:s, s:s, s:s?}}", "current", "history",
                                      "erased", "at", t, "by", hex, "reason", v.erase_reason));
      } else {
        cli_time(v.erased_at.hlc, 0, t);
        cli_node_name(n, v.erased_at.origin, who);
        printf(_("erased   on %s by %s: %s\n"
               "         The consent and its history were deleted with the rest of this "
               "volunteer's data (GDPR art. 17);\n         this line is what is kept.\n"), t, who,
               cli_safe(v.erase_reason, -1));
      }
      kr_volunteer_free(&v);
      goto out;
    }
    kr_volunteer_free(&v);
  }
  cur = cli_consent_json(n, id, 0);
  hist = cli_consent_json(n, id, 1);
  if (cli_json) {
    rc = cli_print_json(json_pack("{s:o, s:o}", "current", cur, "history", hist));
    goto out;
  }
  if (!json_array_size(cur)) printf(_("no consent recorded: nothing may be done that needs it\n"));
  else printf(_("current\n"));
  json_array_foreach(cur, i, e) {
    json_t *g = json_object_get(e, "grant");
    printf(_("  %-20s to %-24s %-10s"), cli_safe(json_string_value(json_object_get(e, "purpose")), -1),
           cli_safe(json_string_value(json_object_get(e, "to")), -1),
           json_string_value(json_object_get(e, "state")));
    if (g && strcmp(json_string_value(json_object_get(e, "state")), "granted") == 0) {
      const char *u = json_string_value(json_object_get(g, "until"));
      printf(" (%s%s%s)", json_string_value(json_object_get(g, "method")), u[0] ? _(", until ") : "",
             cli_safe(u, -1));
    } else if (g) {
      printf(_(" (ended %s)"), cli_safe(json_string_value(json_object_get(g, "until")), -1));
    }
    printf("\n");
  }
  if (json_array_size(hist)) printf(_("history\n"));
  json_array_foreach(hist, i, e) {
    uint8_t who[KR_NODE_LEN];
    char name[80], at[32];
    const char *tv = json_string_value(json_object_get(e, "text_version"));
    const char *u = json_string_value(json_object_get(e, "until"));
    cli_unhex(json_string_value(json_object_get(e, "by")), who, KR_NODE_LEN);
    cli_node_name(n, who, name);
    cli_iso_local(json_string_value(json_object_get(e, "at")), at);
    printf(_("  %s  %-8s %-20s to %-16s recorded by %s, %s%s%s%s%s\n"), at,
           json_string_value(json_object_get(e, "action")),
           cli_safe(json_string_value(json_object_get(e, "purpose")), -1),
           cli_safe(json_string_value(json_object_get(e, "to")), -1), name,
           json_string_value(json_object_get(e, "method")), tv[0] ? _(", text ") : "",
           cli_safe(tv, -1), u[0] ? _(", until ") : "", cli_safe(u, -1));
  }
  json_decref(cur);
  json_decref(hist);
out:
  kr_node_close(n);
  return rc;
}

static int consent_grant(int argc, char **argv) { return consent_edit(argc, argv, 1); }
static int consent_withdraw(int argc, char **argv) { return consent_edit(argc, argv, 0); }

int cmd_consent(int argc, char **argv)
{
  static const struct { const char *name; int (*run)(int, char **); } sub[] = {
    {"grant", consent_grant}, {"withdraw", consent_withdraw}, {"show", consent_show},
  };
  if (argc < 1) return cli_usage("kring consent grant|withdraw|show ...", _("missing subcommand"));
  for (size_t i = 0; i < sizeof sub / sizeof sub[0]; i++)
    if (strcmp(argv[0], sub[i].name) == 0)
      return sub[i].run(argc - 1, argv + 1);
  return cli_usage("kring consent grant|withdraw|show ...", _("unknown subcommand '%s'"), argv[0]);
}
