/* cmd_node: kring init, id, log, digest. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "crdt/err.h"
#include "node/validate.h"

static int init_run(cli_opt *o)
{
  const char *kind = cli_val(&o[1]) ? cli_val(&o[1]) : "other";
  kr_node *n;
  char hex[65];
  const char *why;
  int rc;

  if (!kr_kind_ok(kind)) return -1;
  if (strlen(cli_val(&o[0])) > KR_ORG_MAX)
    return cli_fail(_("organisation name longer than %d bytes"), KR_ORG_MAX);
  if (kr_text_single_ok(cli_val(&o[0]), strlen(cli_val(&o[0])), &why))
    return cli_fail(_("--org '%s': %s"), cli_val(&o[0]), cli_why(why));
  rc = kr_node_create(cli_home, cli_val(&o[0]), kind, &n);
  if (rc == KR_EEXISTS)
    return cli_fail(_("%s already holds a kring node; refusing to overwrite it"), cli_home);
  if (rc == KR_EBSN || rc == KR_EVALIDATION)   /* the name, not the folder */
    return cli_fail(_("--org '%s': %s"), cli_val(&o[0]), cli_strerror(rc));
  if (rc) {
    char reason[600];
    if (cli_write_problem(cli_home, reason, sizeof reason))
      return cli_fail(_("cannot create the node in %s: %s"), cli_home, reason);
    return cli_fail(_("cannot create the node in %s: %s"), cli_home, cli_strerror(rc));
  }
  cli_hex(kr_node_id(n), KR_NODE_LEN, hex);
  if (cli_json)
    rc = cli_print_json(json_pack("{s:s, s:s, s:s, s:s}", "node_id", hex, "org", kr_node_org(n),
                                  "kind", kr_node_kind(n), "home", cli_home));
  else
    printf(_("created node %s for %s (%s) in %s\n"), hex, cli_safe(kr_node_org(n), -1),
           kr_node_kind(n), cli_safe(cli_home, -1));
  kr_node_close(n);
  return rc;
}

int cmd_init(int argc, char **argv)
{
  static const char usage[] = "kring init --org NAME [--kind " KR_KINDS "]";
  cli_opt o[] = {{"org", 1, 0, NULL, 0}, {"kind", 1, 0, NULL, 0}};
  const char **pos = calloc((size_t)argc + 1, sizeof *pos);
  size_t npos;
  int rc;

  if (!pos) return cli_fail(_("out of memory"));
  if ((rc = cli_parse(argc, argv, o, 2, pos, &npos, usage))) goto out;
  if (npos) { rc = cli_usage(usage, _("unexpected argument '%s'"), pos[0]); goto out; }
  if (!cli_val(&o[0]) || !cli_val(&o[0])[0]) { rc = cli_usage(usage, _("--org NAME is required")); goto out; }
  if ((rc = init_run(o)) < 0) rc = cli_usage(usage, _("unknown kind '%s'"), cli_val(&o[1]));
out:
  free(o[0].vals);
  free(o[1].vals);
  free(pos);
  return rc;
}

int cmd_id(int argc, char **argv)
{
  kr_node *n;
  char hex[65];
  int rc;

  if (argc) return cli_usage("kring id", _("unexpected argument '%s'"), argv[0]);
  if ((rc = cli_open(&n))) return rc;
  cli_hex(kr_node_id(n), KR_NODE_LEN, hex);
  if (cli_json)
    rc = cli_print_json(json_pack("{s:s, s:s, s:s}", "node_id", hex, "org", kr_node_org(n),
                                  "kind", kr_node_kind(n)));
  else
    printf("%s  %s (%s)\n", hex, cli_safe(kr_node_org(n), -1), cli_safe(kr_node_kind(n), -1));
  kr_node_close(n);
  return rc;
}

struct log_ctx {
  kr_node *n;
  json_t *arr;
};

static int log_row(void *ctx, const kr_change_info *c)
{
  struct log_ctx *l = ctx;
  char t[32], who[80], hex[65];

  if (l->arr) {
    cli_hex(c->origin, KR_NODE_LEN, hex);
    cli_time(c->hlc, 1, t);
    json_array_append_new(l->arr, json_pack("{s:s, s:I, s:s, s:I, s:i}", "origin", hex, "seq",
                                            (json_int_t)c->seq, "time", t, "hlc",
                                            (json_int_t)c->hlc, "ops", (int)c->nops));
  } else {
    cli_time(c->hlc, 0, t);
    cli_node_name(l->n, c->origin, who);
    printf(ngettext("%s  %-30s seq %-6llu %u op\n", "%s  %-30s seq %-6llu %u ops\n", c->nops), t,
           who, (unsigned long long)c->seq, c->nops);
  }
  return 0;
}

/* ---- volunteers this node stopped reading ---------------------------------- */

/* The reasons node/access.c records, for translation. */
static const char *const loss_reasons[] = {
  N_("consent withdrawn"),
  N_("consent expired"),
  N_("this node was removed from the network"),
  /* node/apply.c */
  N_("the change that let this node read it was taken back (its origin was removed)"),
};

struct loss_ctx {
  json_t *arr;
};

static int loss_row(void *ctx, const kr_access_loss *l)
{
  struct loss_ctx *x = ctx;
  char hex[33], t[32];

  cli_hex(l->subject, KR_SUBJECT_LEN, hex);
  cli_time(kr_hlc_make(l->at_ms, 0), 1, t);
  json_array_append_new(x->arr, json_pack("{s:s, s:s, s:I, s:s}", "volunteer", hex, "at", t,
                                          "at_ms", (json_int_t)l->at_ms, "why",
                                          l->why ? l->why : ""));
  return 0;
}

json_t *cli_access_lost_json(kr_node *n, int *err)
{
  struct loss_ctx x = {json_array()};
  if (!x.arr) {
    *err = KR_ENOMEM;
    return NULL;
  }
  if ((*err = kr_node_access_lost(n, loss_row, &x))) {
    json_decref(x.arr);
    return NULL;
  }
  return x.arr;
}

void cli_access_lost_print(const json_t *arr, size_t last)
{
  size_t i, count = json_array_size(arr), from = last && count > last ? count - last : 0;
  json_t *e;

  json_array_foreach(arr, i, e) {
    const char *why = json_string_value(json_object_get(e, "why"));
    char t[32];
    if (i < from) continue;
    for (size_t k = 0; k < sizeof loss_reasons / sizeof loss_reasons[0]; k++)
      if (strcmp(why, loss_reasons[k]) == 0) why = _(loss_reasons[k]);
    cli_ms_time((uint64_t)json_integer_value(json_object_get(e, "at_ms")), t);
    /* the short id, when, why: never a name (this node no longer has it) */
    printf("  %.8s  %-22s %s\n", json_string_value(json_object_get(e, "volunteer")), t,
           cli_safe(why, -1));
  }
  if (from)
    printf(_("  ... and %zu earlier: kring log --access\n"), from);
}

/* kring log --access */
static int log_access(kr_node *n)
{
  json_t *arr;
  int rc;

  if (!(arr = cli_access_lost_json(n, &rc)))
    return cli_fail(_("reading the log: %s"), cli_strerror(rc));
  if (cli_json) return cli_print_json(arr);
  if (!json_array_size(arr))
    printf(_("this node has not stopped reading any volunteer\n"));
  else
    printf(_("volunteers this node stopped reading (what it knew of them is deleted here)\n"));
  cli_access_lost_print(arr, 0);
  json_decref(arr);
  return CLI_OK;
}

int cmd_log(int argc, char **argv)
{
  struct log_ctx l = {NULL, NULL};
  int rc;

  if (argc == 1 && (strcmp(argv[0], "--exports") == 0 || strcmp(argv[0], "--access") == 0)) {
    if ((rc = cli_open(&l.n))) return rc;
    rc = argv[0][2] == 'e' ? cli_log_exports(l.n) : log_access(l.n);
    kr_node_close(l.n);
    return rc;
  }
  if (argc) return cli_usage("kring log [--exports | --access]", _("unexpected argument '%s'"), argv[0]);
  if ((rc = cli_open(&l.n))) return rc;
  if (cli_json) l.arr = json_array();
  rc = kr_node_log(l.n, log_row, &l);
  if (rc) rc = cli_fail(_("reading the log: %s"), cli_strerror(rc));
  else if (l.arr) rc = cli_print_json(l.arr), l.arr = NULL;
  json_decref(l.arr);
  kr_node_close(l.n);
  return rc;
}

int cmd_check(int argc, char **argv)
{
  kr_node *n;
  char msg[512];
  int rc;

  if (argc) return cli_usage("kring check", _("unexpected argument '%s'"), argv[0]);
  if ((rc = cli_open(&n))) return rc;
  if ((rc = kr_node_check(n, msg, sizeof msg)) == KR_EDAMAGED) {
    rc = cli_damaged(msg[0] ? msg : "the integrity check failed");
  } else if (rc) {
    rc = cli_fail(_("cannot check the store in %s: %s"), cli_home, msg[0] ? msg : cli_strerror(rc));
  } else if (cli_json) {
    rc = cli_print_json(json_pack("{s:b}", "ok", 1));
  } else {
    printf("ok\n");
  }
  kr_node_close(n);
  return rc;
}

int cmd_digest(int argc, char **argv)
{
  kr_node *n;
  uint8_t d[32];
  char hex[65];
  int rc, readable = 0;

  if (argc && strcmp(argv[0], "--readable") == 0) {
    readable = 1;
    argc--;
    argv++;
  }
  if (argc) return cli_usage("kring digest [--readable]", _("unexpected argument '%s'"), argv[0]);
  if ((rc = cli_open(&n))) return rc;
  if ((rc = readable ? kr_node_digest_readable(n, d) : kr_node_digest(n, d))) {
    rc = cli_fail(_("computing the digest: %s"), cli_strerror(rc));
  } else {
    cli_hex(d, 32, hex);
    if (cli_json) rc = cli_print_json(json_pack("{s:s}", "digest", hex));
    else printf("%s\n", hex);
  }
  kr_node_close(n);
  return rc;
}
