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

  if (!pos) return cli_fail("out of memory");
  if ((rc = cli_parse(argc, argv, o, 3, pos, &npos, usage))) goto out;
  if (npos) { rc = cli_usage(usage, "unexpected argument '%s'", pos[0]); goto out; }
  if (!cli_val(&o[0]) || !cli_val(&o[0])[0]) { rc = cli_usage(usage, "--out FILE is required"); goto out; }
  if (o[1].n && o[2].n) { rc = cli_usage(usage, "--for and --all exclude each other"); goto out; }
  {
    char why[600];
    if (cli_write_problem(cli_val(&o[0]), why, sizeof why)) {
      rc = cli_fail("cannot write %s: %s", cli_val(&o[0]), why);
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
      rc = cli_fail("%s %s, so it cannot read a bundle; export for a current member: %s", name,
                    removed ? "was removed from the network" : "is not a member of the network yet",
                    names);
      goto out;
    }
  }
  rc = kr_bundle_export(n, cli_val(&o[0]), o[1].n ? peer : NULL, progress, "exporting", &res);
  if (rc == KR_ENOTMEMBER) {
    rc = cli_fail("this node is not a member yet, so there is nobody to encrypt a bundle for");
    goto out;
  }
  if (rc == KR_EIO) {
    char why[600];
    if (!cli_write_problem(cli_val(&o[0]), why, sizeof why))
      snprintf(why, sizeof why, "the disk may be full or was removed while writing; free some "
               "space, or plug the disk in again, and export again");
    rc = cli_fail("cannot write %s: %s", cli_val(&o[0]), why);
    goto out;
  }
  if (rc) { rc = cli_fail("cannot export: %s", kr_strerror(rc)); goto out; }
  if (cli_json)
    rc = cli_print_json(json_pack("{s:s, s:I, s:I, s:i}", "file", cli_val(&o[0]), "changes",
                                  (json_int_t)res.changes, "bytes", (json_int_t)res.bytes,
                                  "recipients", (int)res.recipients));
  else
    printf("wrote %llu change%s (%llu bytes) to %s%s%s%s, readable by the %u current member%s\n",
           (unsigned long long)res.changes, res.changes == 1 ? "" : "s",
           (unsigned long long)res.bytes, cli_safe(cli_val(&o[0]), -1), o[1].n ? " (what " : "",
           o[1].n ? name : "", o[1].n ? " lacks, as far as this node knows)" : "",
           res.recipients, res.recipients == 1 ? "" : "s");
out:
  kr_node_close(n);
  for (int i = 0; i < 3; i++) free(o[i].vals);
  free(pos);
  return rc;
}

static int import_error(kr_node *n, int rc, const char *file, const kr_import_result *res)
{
  char name[80];
  switch (rc) {
  case KR_ENOTFOUND: return cli_fail("no such file: %s", file);
  case KR_EIO: return cli_fail("cannot read %s", file);
  case KR_ENETWORK: return cli_fail("%s is a bundle for another kring network; nothing imported", file);
  case KR_ENOKEY:
    return cli_fail("%s is not encrypted for this node (made before it was admitted, or this node "
                    "is not a member); nothing imported", file);
  case KR_EBADSIG:
    return cli_fail("%s does not verify: it was changed or damaged; nothing imported", file);
  case KR_ETRUNCATED: return cli_fail("%s is truncated; nothing imported", file);
  case KR_ENOTMEMBER:
    cli_node_name(n, res->exporter, name);
    return cli_fail("%s was exported by %s, which is not a member of this network (removed, or "
                    "never admitted); nothing imported", file, name);
  case KR_EMALFORMED: case KR_ENONCANON: case KR_EUNKNOWN: case KR_ETOOBIG:
    return cli_fail("%s is not a kring bundle, or is damaged (%s); nothing imported", file,
                    kr_strerror(rc));
  default: return cli_fail("cannot import %s: %s; nothing imported", file, kr_strerror(rc));
  }
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

  if (!pos) return cli_fail("out of memory");
  if ((rc = cli_parse(argc, argv, NULL, 0, pos, &npos, usage))) goto out;
  if (npos != 1) { rc = cli_usage(usage, "one bundle file, please"); goto out; }
  if ((rc = cli_open(&n))) goto out;
  rc = kr_bundle_import(n, pos[0], progress, "importing", &res);
  if (rc) { rc = import_error(n, rc, pos[0], &res); goto out; }
  cli_node_name(n, res.exporter, name);
  if (res.refused) {
    cli_node_name(n, res.refused_origin, who);
    fprintf(stderr, "kring: refused %llu change%s; the first, %s seq %llu: %s\n",
            (unsigned long long)res.refused, res.refused == 1 ? "" : "s", who,
            (unsigned long long)res.refused_seq, kr_strerror(res.refusal));
  }
  if (cli_json) {
    rc = cli_print_json(json_pack("{s:s, s:s, s:I, s:I, s:I, s:I}", "file", pos[0], "from", name,
                                  "applied", (json_int_t)res.applied, "known",
                                  (json_int_t)res.known, "refused", (json_int_t)res.refused,
                                  "held", (json_int_t)res.held));
  } else {
    printf("%s from %s: %llu applied, %llu already known, %llu refused\n", cli_safe(pos[0], -1), name,
           (unsigned long long)res.applied, (unsigned long long)res.known,
           (unsigned long long)res.refused);
    if (res.held)
      printf("%llu change%s held: stamped ahead of this node's clock, applied when it gets there "
             "(kring status says until when)\n", (unsigned long long)res.held,
             res.held == 1 ? "" : "s");
  }
out:
  kr_node_close(n);
  free(pos);
  return rc;
}

int cmd_bundle(int argc, char **argv)
{
  static const char usage[] = "kring bundle export --out FILE [--for NODEID | --all] | import FILE";
  if (argc < 1) return cli_usage(usage, "which bundle command?");
  if (strcmp(argv[0], "export") == 0) return bundle_export(argc - 1, argv + 1);
  if (strcmp(argv[0], "import") == 0) return bundle_import(argc - 1, argv + 1);
  return cli_usage(usage, "unknown bundle command '%s'", argv[0]);
}
