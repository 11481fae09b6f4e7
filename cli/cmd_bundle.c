/* cmd_bundle: kring bundle export | import. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "crdt/err.h"
#include "sync/carry.h"

static void progress(void *ctx, uint64_t done, uint64_t total)
{
  cli_progress(ctx, done, total, done == total);
}

static int bundle_export(int argc, char **argv)
{
  static const char usage[] = "kring bundle export --out FILE [--for NODEID | --all]";
  cli_opt o[] = {{"out", 1, 0, NULL, 0}, {"for", 1, 0, NULL, 0}, {"all", 0, 0, NULL, 0}};
  const char **pos = calloc((size_t)argc + 1, sizeof *pos);
  uint8_t peer[KR_NODE_LEN];
  kr_export_result res;
  kr_node *n = NULL;
  char name[80];
  size_t npos;
  int rc;

  if (!pos) return cli_fail(_("out of memory"));
  if ((rc = cli_parse(argc, argv, o, 3, pos, &npos, usage))) goto out;
  if (npos) { rc = cli_usage(usage, _("unexpected argument '%s'"), pos[0]); goto out; }
  if (!cli_val(&o[0]) || !cli_val(&o[0])[0]) { rc = cli_usage(usage, _("--out FILE is required")); goto out; }
  if (o[1].n && o[2].n) { rc = cli_usage(usage, _("--for and --all exclude each other")); goto out; }
  {
    char why[600];
    if (cli_write_problem(cli_val(&o[0]), why, sizeof why)) {
      rc = cli_fail(_("cannot write %s: %s"), cli_val(&o[0]), why);
      goto out;
    }
  }
  if ((rc = cli_open(&n))) goto out;
  if (o[1].n) {
    int removed;
    if ((rc = cli_member(n, cli_val(&o[1]), peer, &removed))) goto out;
    cli_node_name(n, peer, name);
    if (removed || kr_node_is_member(n, peer) != 1) {
      /* a bundle is sealed for the current members only: it could not read it */
      char names[512];
      cli_member_names(n, names, sizeof names);
      rc = cli_fail(removed ? _("%s was removed from the network, so it cannot read a bundle; "
                                "export for a current member: %s")
                            : _("%s is not a member of the network yet, so it cannot read a "
                                "bundle; export for a current member: %s"),
                    name, names);
      goto out;
    }
  }
  rc = kr_bundle_export(n, cli_val(&o[0]), o[1].n ? peer : NULL, progress, _("exporting"), &res);
  if (rc == KR_ENOTMEMBER) {
    rc = cli_fail(_("this node is not a member yet, so there is nobody to encrypt a bundle for"));
    goto out;
  }
  if (rc == KR_EIO) {
    char why[600];
    if (!cli_write_problem(cli_val(&o[0]), why, sizeof why))
      snprintf(why, sizeof why, "%s", _("the disk may be full or was removed while writing; free "
                                        "some space, or plug the disk in again, and export again"));
    rc = cli_fail(_("cannot write %s: %s"), cli_val(&o[0]), why);
    goto out;
  }
  if (rc) { rc = cli_fail(_("cannot export: %s"), cli_strerror(rc)); goto out; }
  if (cli_json)
    rc = cli_print_json(json_pack("{s:s, s:I, s:I, s:i}", "file", cli_val(&o[0]), "changes",
                                  (json_int_t)res.changes, "bytes", (json_int_t)res.bytes,
                                  "recipients", (int)res.recipients));
  else {
    printf(ngettext("wrote %llu change (%llu bytes) to %s", "wrote %llu changes (%llu bytes) to %s",
                    (unsigned long)res.changes),
           (unsigned long long)res.changes, (unsigned long long)res.bytes,
           cli_safe(cli_val(&o[0]), -1));
    if (o[1].n) printf(_(" (what %s lacks, as far as this node knows)"), name);
    printf(ngettext(", readable by the %u current member\n", ", readable by the %u current members\n",
                    res.recipients), res.recipients);
  }
out:
  kr_node_close(n);
  for (int i = 0; i < 3; i++) free(o[i].vals);
  free(pos);
  return rc;
}

/* Whether a node's admission is void, and which node its invite admitted. */
struct void_of {
  const uint8_t *node;
  int found;
  char winner[KR_ORG_MAX + 1];
};

static int void_of_cb(void *ctx, const kr_void_admission *v)
{
  struct void_of *f = ctx;
  if (f->found || memcmp(v->node, f->node, KR_NODE_LEN) != 0) return 0;
  f->found = 1;
  snprintf(f->winner, sizeof f->winner, "%s", cli_safe(v->winner_org, -1));
  return 0;
}

static int import_error(kr_node *n, int rc, const char *file, const kr_import_result *res)
{
  char name[80];
  switch (rc) {
  case KR_ENOTFOUND: return cli_fail(_("no such file: %s"), file);
  case KR_EIO: return cli_fail(_("cannot read %s"), file);
  case KR_ENETWORK: return cli_fail(_("%s is a bundle for another kring network; nothing imported"), file);
  case KR_ENOKEY:
    return cli_fail(_("%s is not encrypted for this node (made before it was admitted, or this node "
                    "is not a member); nothing imported"), file);
  case KR_EBADSIG:
    return cli_fail(_("%s does not verify: it was changed or damaged; nothing imported"), file);
  case KR_ETRUNCATED: return cli_fail(_("%s is truncated; nothing imported"), file);
  case KR_ENOTMEMBER: {
    struct void_of v = {res->exporter, 0, ""};
    cli_node_name(n, res->exporter, name);
    kr_node_void_admissions(n, void_of_cb, &v);
    if (v.found)
      return cli_fail(_("%s was exported by %s, whose admission is void: the invite it used had "
                      "already admitted %s. Nothing imported; %s must ask a member for a new "
                      "invite and join with it"), file, name, v.winner, name);
    return cli_fail(_("%s was exported by %s, which is not a member of this network (removed, or "
                    "never admitted); nothing imported"), file, name);
  }
  case KR_EUNKNOWN:
    return cli_fail(_("%s was made by another version of kring, whose bundles this kring cannot "
                      "read; nothing imported. Install the same kring version on both computers "
                      "and export the bundle again"), file);
  case KR_EMALFORMED: case KR_ENONCANON: case KR_ETOOBIG:
    return cli_fail(_("%s is not a kring bundle, or is damaged (%s); nothing imported"), file,
                    cli_strerror(rc));
  default: return cli_fail(_("cannot import %s: %s; nothing imported"), file, cli_strerror(rc));
  }
}

struct removal {
  const uint8_t *node;
  char reason[256];
  uint64_t cutoff;
  int found;
};

static int removal_row(void *ctx, const kr_member *m)
{
  struct removal *r = ctx;
  if (!m->removed || memcmp(m->node, r->node, KR_NODE_LEN) != 0) return 0;
  snprintf(r->reason, sizeof r->reason, "%s", m->reason ? m->reason : "");
  r->cutoff = m->cutoff;
  r->found = 1;
  return 1;
}

/* Why node was removed (its reason), if it was. */
static int removal_of(kr_node *n, const uint8_t node[KR_NODE_LEN], struct removal *r)
{
  memset(r, 0, sizeof *r);
  r->node = node;
  kr_node_members(n, removal_row, r);
  return r->found;
}

static int bundle_import(int argc, char **argv)
{
  static const char usage[] = "kring bundle import FILE";
  const char **pos = calloc((size_t)argc + 1, sizeof *pos);
  kr_import_result res;
  kr_node *n = NULL;
  char name[80], who[80];
  size_t npos;
  int rc;

  if (!pos) return cli_fail(_("out of memory"));
  if ((rc = cli_parse(argc, argv, NULL, 0, pos, &npos, usage))) goto out;
  if (npos != 1) { rc = cli_usage(usage, _("one bundle file, please")); goto out; }
  if ((rc = cli_open(&n))) goto out;
  rc = kr_bundle_import(n, pos[0], progress, _("importing"), &res);
  if (rc) { rc = import_error(n, rc, pos[0], &res); goto out; }
  cli_node_name(n, res.exporter, name);
  if (res.refused) {
    struct removal rm;
    cli_node_name(n, res.refused_origin, who);
    if (res.refusal == KR_ENOTMEMBER && removal_of(n, res.refused_origin, &rm))
      fprintf(stderr, ngettext("kring: refused %llu change; the first, %s seq %llu: made after "
                               "its removal from the network (%s)\n",
                               "kring: refused %llu changes; the first, %s seq %llu: made after "
                               "its removal from the network (%s)\n", (unsigned long)res.refused),
              (unsigned long long)res.refused, who,
              (unsigned long long)res.refused_seq, cli_safe(rm.reason, -1));
    else if (res.refused_seq == 0)            /* not even its origin could be read */
      fprintf(stderr, ngettext("kring: refused %llu change, which could not be read: %s\n",
                               "kring: refused %llu changes; the first could not be read: %s\n",
                               (unsigned long)res.refused),
              (unsigned long long)res.refused, cli_strerror(res.refusal));
    else
      fprintf(stderr, ngettext("kring: refused %llu change; the first, %s seq %llu: %s\n",
                               "kring: refused %llu changes; the first, %s seq %llu: %s\n",
                               (unsigned long)res.refused),
              (unsigned long long)res.refused, who,
              (unsigned long long)res.refused_seq, cli_strerror(res.refusal));
  }
  if (res.exporter_removed) {
    struct removal rm;
    removal_of(n, res.exporter, &rm);
    if (!strncmp(rm.reason, "signed two different changes", 28))
      fprintf(stderr, _("kring: %s %s: its home was copied (to a second PC, or a backup was "
                      "restored) and both copies went on working. This node removed it after "
                      "its change %llu, as every node will once the removal reaches it; its "
                      "changes up to there stay everywhere, the rest of this bundle was imported. "
                      "%s must join again as a new node, with a new invite (admin guide: \"A "
                      "copied home\")\n"), name, cli_safe(rm.reason, -1),
              (unsigned long long)rm.cutoff, name);
    else
      fprintf(stderr, _("kring: %s was removed from the network (%s); this bundle, made before, "
                      "was imported, and its changes after the removal were refused\n"), name,
              cli_safe(rm.reason, -1));
  }
  if (cli_json) {
    rc = cli_print_json(json_pack("{s:s, s:s, s:I, s:I, s:I, s:I}", "file", pos[0], "from", name,
                                  "applied", (json_int_t)res.applied, "known",
                                  (json_int_t)res.known, "refused", (json_int_t)res.refused,
                                  "held", (json_int_t)res.held));
  } else {
    printf(_("%s from %s: %llu applied, %llu already known, %llu refused\n"), cli_safe(pos[0], -1), name,
           (unsigned long long)res.applied, (unsigned long long)res.known,
           (unsigned long long)res.refused);
    if (res.held)
      printf(ngettext("%llu change held: stamped ahead of this node's clock, applied when it gets "
                      "there (kring status says until when)\n",
                      "%llu changes held: stamped ahead of this node's clock, applied when it gets "
                      "there (kring status says until when)\n", (unsigned long)res.held),
             (unsigned long long)res.held);
  }
out:
  kr_node_close(n);
  free(pos);
  return rc;
}

int cmd_bundle(int argc, char **argv)
{
  static const char usage[] = "kring bundle export --out FILE [--for NODEID | --all] | import FILE";
  if (argc < 1) return cli_usage(usage, _("which bundle command?"));
  if (strcmp(argv[0], "export") == 0) return bundle_export(argc - 1, argv + 1);
  if (strcmp(argv[0], "import") == 0) return bundle_import(argc - 1, argv + 1);
  return cli_usage(usage, _("unknown bundle command '%s'"), argv[0]);
}
