/*
 * cmd_purpose: kring purpose add|list, the network's list of consent
 * purposes (docs/crdt.md, "Purposes"), and the check that a grant names a
 * purpose on it: a typo (--purpose fotos for photos) is refused with the
 * nearest purposes the list holds, instead of making a new purpose.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "crdt/err.h"
#include "node/validate.h"

static const char usage_add[] = "kring purpose add NAME --description TEXT [--text-version V]";
static const char usage_all[] = "kring purpose add NAME --description TEXT [--text-version V] | list";

#define NEAR_MAX 3       /* suggest purposes at most this many edits away, */
#define NEAR_SHOWN 3     /* and at most this many of them */

/* Edits (insert, delete, replace a byte, swap two neighbours) from a to
 * b, optimal string alignment; both at most KR_PURPOSE_MAX bytes (more
 * counts as far). */
static size_t distance(const char *a, const char *b)
{
  size_t la = strlen(a), lb = strlen(b), d[KR_PURPOSE_MAX + 1][KR_PURPOSE_MAX + 1];

  if (la > KR_PURPOSE_MAX || lb > KR_PURPOSE_MAX) return (size_t)-1;
  for (size_t i = 0; i <= la; i++) d[i][0] = i;
  for (size_t j = 0; j <= lb; j++) d[0][j] = j;
  for (size_t i = 1; i <= la; i++)
    for (size_t j = 1; j <= lb; j++) {
      size_t best = d[i - 1][j - 1] + (a[i - 1] != b[j - 1]);
      if (d[i - 1][j] + 1 < best) best = d[i - 1][j] + 1;
      if (d[i][j - 1] + 1 < best) best = d[i][j - 1] + 1;
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
          d[i - 2][j - 2] + 1 < best)
        best = d[i - 2][j - 2] + 1;
      d[i][j] = best;
    }
  return d[la][lb];
}

struct near {
  char want[KR_PURPOSE_MAX + 1];            /* the name asked for, lower case */
  char name[NEAR_SHOWN][KR_PURPOSE_MAX + 1]; /* nearest first */
  size_t dist[NEAR_SHOWN], n;
  char all[512];                             /* every name, for when none is near */
  size_t count;
};

static int near_row(void *ctx, const kr_purpose *p)
{
  struct near *x = ctx;
  size_t d = distance(x->want, p->name), at = strlen(x->all);

  if (at + strlen(p->name) + 8 < sizeof x->all)
    snprintf(x->all + at, sizeof x->all - at, "%s%s", x->count ? ", " : "", p->name);
  else if (!strstr(x->all, ", ..."))
    snprintf(x->all + at, sizeof x->all - at, ", ...");
  x->count++;
  if (d > NEAR_MAX) return 0;
  /* insert by distance (the list comes by name: equals stay by name) */
  for (size_t i = 0; i < NEAR_SHOWN; i++) {
    if (i < x->n && x->dist[i] <= d) continue;
    for (size_t k = NEAR_SHOWN - 1; k > i; k--) {
      x->dist[k] = x->dist[k - 1];
      memcpy(x->name[k], x->name[k - 1], sizeof x->name[k]);
    }
    x->dist[i] = d;
    snprintf(x->name[i], sizeof x->name[i], "%s", p->name);
    if (x->n < NEAR_SHOWN) x->n++;
    break;
  }
  return 0;
}

int cli_purpose_known(kr_node *n, const char *purpose)
{
  struct near x;
  kr_purpose p;
  char near[3 * (KR_PURPOSE_MAX + 8)] = "";
  size_t i;
  int rc;

  if (kr_purpose_name_ok(purpose)) {
    rc = kr_node_purpose_get(n, purpose, &p);
    if (rc == 0) {
      kr_purpose_free(&p);
      return 0;
    }
    if (rc != KR_ENOTFOUND) return cli_fail(_("reading the purposes: %s"), cli_strerror(rc));
  }
  memset(&x, 0, sizeof x);
  for (i = 0; purpose[i] && i < KR_PURPOSE_MAX; i++)
    x.want[i] = (char)tolower((unsigned char)purpose[i]);
  if (purpose[i]) snprintf(x.want, sizeof x.want, "%s", "-");   /* too long: nothing is near */
  if ((rc = kr_node_purposes(n, near_row, &x)))
    return cli_fail(_("reading the purposes: %s"), cli_strerror(rc));
  for (i = 0; i < x.n; i++)
    snprintf(near + strlen(near), sizeof near - strlen(near), "%s%s",
             i == 0 ? "" : i + 1 == x.n ? _(" or ") : ", ", x.name[i]);
  if (!kr_purpose_name_ok(purpose)) {
    if (x.n)
      return cli_fail(_("'%s' cannot be a purpose (1-40 characters a-z, 0-9 or '-'); did you mean "
                        "%s?"), purpose, near);
    return cli_fail(_("'%s' cannot be a purpose (1-40 characters a-z, 0-9 or '-'); the network's "
                      "purposes are: %s"), purpose, x.count ? x.all : _("none yet"));
  }
  if (x.n)
    return cli_fail(_("'%s' is not a purpose of this network: did you mean %s? If it is a new "
                      "purpose, add it first: kring purpose add %s --description \"what the "
                      "consent is for\""), purpose, near, purpose);
  return cli_fail(_("'%s' is not a purpose of this network (its purposes: %s). If it is a new "
                    "purpose, add it first: kring purpose add %s --description \"what the "
                    "consent is for\""), purpose, x.count ? x.all : _("none yet"), purpose);
}

static int purpose_add(int argc, char **argv)
{
  cli_opt o[] = {{"description", 1, 0, NULL, 0}, {"text-version", 1, 0, NULL, 0}};
  const char **pos = calloc((size_t)argc + 1, sizeof *pos);
  const char *name, *desc, *tv, *why = NULL;
  kr_node *n = NULL;
  kr_purpose cur;
  size_t npos;
  int rc, had;

  memset(&cur, 0, sizeof cur);
  if (!pos) return cli_fail(_("out of memory"));
  if ((rc = cli_parse(argc, argv, o, 2, pos, &npos, usage_add))) goto out;
  if (npos != 1) {
    rc = cli_usage(usage_add, npos ? _("one purpose at a time (a purpose is one word: a-z, 0-9 "
                                       "or '-')") : _("which purpose? Give its name, such as "
                                                      "photos"));
    goto out;
  }
  name = pos[0];
  if (!kr_purpose_name_ok(name)) {
    rc = cli_fail(_("'%s' cannot be a purpose: give 1-40 characters a-z, 0-9 or '-' (such as "
                    "photos or first-aid)"), name);
    goto out;
  }
  if ((rc = cli_open(&n))) goto out;
  rc = kr_node_purpose_get(n, name, &cur);
  if (rc && rc != KR_ENOTFOUND) {
    rc = cli_fail(_("reading the purposes: %s"), cli_strerror(rc));
    goto out;
  }
  had = rc == 0;
  /* what is not given stays as it is */
  desc = cli_val(&o[0]) ? cli_val(&o[0]) : had ? cur.description : NULL;
  tv = cli_val(&o[1]) ? cli_val(&o[1]) : had ? cur.text_version : "";
  if (!desc) {
    rc = cli_usage(usage_add, _("--description is required: say in one line what the consent "
                              "is for, as the volunteer reads it"));
    goto out;
  }
  if (had && !strcmp(desc, cur.description) && !strcmp(tv, cur.text_version)) {
    if (cli_json) rc = cli_print_json(json_pack("{s:s, s:s}", "purpose", name, "result", "unchanged"));
    else printf(_("purpose %s already reads so; nothing changed\n"), name);
    goto out;
  }
  if ((rc = kr_node_purpose_set(n, name, desc, tv, &why))) {
    if (rc == KR_EBSN) rc = cli_fail(_("the text looks like a BSN; kring never stores one"));
    else if (rc == KR_EVALIDATION)
      rc = cli_fail(_("purpose %s: %s"), name, why ? why : cli_strerror(rc));
    else rc = cli_fail_write(rc, _("cannot store the purpose"));
    goto out;
  }
  if (cli_json)
    rc = cli_print_json(json_pack("{s:s, s:s, s:s, s:s}", "purpose", name, "result",
                                  had ? "changed" : "added", "description", desc,
                                  "text_version", tv));
  else {
    printf(had ? _("changed purpose %s: %s") : _("added purpose %s: %s"), name, cli_safe(desc, -1));
    if (tv[0]) printf(_(" (consent text %s)"), cli_safe(tv, -1));
    printf("\n");
    if (!had)
      printf(_("Every member gets it with the next sync; consent can now be recorded for it.\n"));
  }
out:
  kr_purpose_free(&cur);
  kr_node_close(n);
  for (size_t i = 0; i < 2; i++) free(o[i].vals);
  free(pos);
  return rc;
}

struct list {
  kr_node *n;
  json_t *arr;
};

static int list_row(void *ctx, const kr_purpose *p)
{
  struct list *l = ctx;
  char t[32], hex[65];

  cli_time(p->changed.hlc, 1, t);
  cli_hex(p->changed.origin, KR_NODE_LEN, hex);
  json_array_append_new(l->arr, json_pack("{s:s, s:s, s:s, s:s, s:s}", "name", p->name,
                                          "description", p->description, "text_version",
                                          p->text_version, "changed_at", t, "changed_by", hex));
  return 0;
}

static int purpose_list(int argc, char **argv)
{
  struct list l = {NULL, json_array()};
  kr_node *n = NULL;
  json_t *e;
  size_t i, w = 0;
  int rc;

  if (argc != 0) return cli_usage("kring purpose list", _("purpose list takes no arguments"));
  if (!l.arr) return cli_fail(_("out of memory"));
  if ((rc = cli_open(&n))) goto out;
  l.n = n;
  if ((rc = kr_node_purposes(n, list_row, &l))) {
    rc = cli_fail(_("reading the purposes: %s"), cli_strerror(rc));
    goto out;
  }
  if (cli_json) {
    rc = cli_print_json(l.arr);
    l.arr = NULL;
    goto out;
  }
  if (!json_array_size(l.arr)) {
    printf(_("no purposes yet: kring purpose add NAME --description TEXT\n"));
    goto out;
  }
  json_array_foreach(l.arr, i, e) {
    size_t k = strlen(json_string_value(json_object_get(e, "name")));
    if (k > w) w = k;
  }
  json_array_foreach(l.arr, i, e) {
    const char *tv = json_string_value(json_object_get(e, "text_version"));
    printf("  %-*s  %s", (int)w, json_string_value(json_object_get(e, "name")),
           cli_safe(json_string_value(json_object_get(e, "description")), -1));
    if (tv[0]) printf(_(" (consent text %s)"), cli_safe(tv, -1));
    printf("\n");
  }
out:
  json_decref(l.arr);
  kr_node_close(n);
  return rc;
}

int cmd_purpose(int argc, char **argv)
{
  static const struct { const char *name; int (*run)(int, char **); } sub[] = {
    {"add", purpose_add}, {"list", purpose_list},
  };
  if (argc < 1) return cli_usage(usage_all, _("missing subcommand"));
  for (size_t i = 0; i < sizeof sub / sizeof sub[0]; i++)
    if (strcmp(argv[0], sub[i].name) == 0)
      return sub[i].run(argc - 1, argv + 1);
  return cli_usage(usage_all, _("unknown subcommand '%s'"), argv[0]);
}
