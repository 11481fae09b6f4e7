/* cmd_subject: kring erase and kring subject-export (GDPR art. 17 and 15/20). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/cli.h"
#include "crdt/err.h"
#include "node/validate.h"

int cmd_erase(int argc, char **argv)
{
  static const char usage[] = "kring erase VOLUNTEER --reason TEXT [--yes]";
  cli_opt o[] = {{"reason", 1, 0, NULL, 0}, {"yes", 0, 0, NULL, 0}};
  const char **pos = calloc((size_t)argc + 1, sizeof *pos);
  size_t npos;
  kr_node *n = NULL;
  kr_txn *t = NULL;
  uint8_t id[KR_SUBJECT_LEN];
  const char *why = NULL;
  char name[KR_VALUE_MAX + 1] = "";
  int rc, e;

  if (!pos) return cli_fail(_("out of memory"));
  if ((rc = cli_parse(argc, argv, o, 2, pos, &npos, usage))) goto out;
  if (npos != 1) {
    rc = cli_usage(usage, npos ? _("too many arguments (put a name of several words in quotes)")
                               : _("which volunteer? Give the name, the e-mail or the id"));
    goto out;
  }
  if (!cli_val(&o[0]) || !cli_val(&o[0])[0]) { rc = cli_usage(usage, _("--reason is required")); goto out; }
  if (kr_text_single_ok(cli_val(&o[0]), strlen(cli_val(&o[0])), &why)) {
    rc = cli_fail("--reason: %s", cli_why(why));
    goto out;
  }
  if (kr_text_has_bsn(cli_val(&o[0]))) {
    rc = cli_fail(_("--reason looks like it holds a BSN; kring never stores one: write the reason "
                  "without the number"));
    goto out;
  }
  if ((rc = cli_open(&n))) goto out;
  if ((rc = cli_subject_min(n, pos[0], id, CLI_MIN_HEX_DESTRUCTIVE))) goto out;
  {
    kr_volunteer v;
    char hex[33], what[600];
    const char *answer = NULL;
    cli_hex(id, KR_SUBJECT_LEN, hex);
    if ((e = kr_node_volunteer(n, id, &v))) {
      rc = e == KR_ESEALED ? cli_sealed(pos[0]) : cli_fail(_("reading %s: %s"), pos[0], cli_strerror(e));
      goto out;
    }
    if (v.erased) {
      char at[32], who[80];
      cli_time(v.erased_at.hlc, 0, at);
      cli_node_name(n, v.erased_at.origin, who);
      rc = cli_fail(_("volunteer %.8s has already been erased (on %s by %s); nothing to do"), hex,
                    at, who);
      kr_volunteer_free(&v);
      goto out;
    }
    snprintf(name, sizeof name, "%s", v.val.v[KR_F_NAME] ? v.val.v[KR_F_NAME] : "");
    kr_volunteer_free(&v);
    if (!o[1].n) {
      /* TRANSLATORS: ends in "This" ("Dit"): "... cannot be undone" follows. */
      snprintf(what, sizeof what, _("Erasing %s (id %.8s) deletes every value and all consent of "
               "this volunteer here and on every node the erasure reaches; only the date, your "
               "organisation and the reason stay. This"), name[0] ? cli_safe(name, -1) : _("this volunteer"),
               hex);
      answer = name[0] ? name : hex;
      if (!name[0]) hex[8] = 0;
      if ((rc = cli_confirm(what, answer, 0))) goto out;
    }
  }
  if ((rc = kr_txn_begin(n, &t))) { rc = cli_fail_write(rc, _("cannot record the erasure")); goto out; }
  if ((e = kr_txn_erase(t, id, cli_val(&o[0]), &why))) {
    rc = e == KR_EERASED ? cli_fail(_("volunteer %s has already been erased"), pos[0])
       : e == KR_EBSN ? cli_fail(_("reason looks like it holds a BSN; kring never stores one"))
                      : cli_fail_kr(e, "--reason", why);
    goto out;
  }
  rc = kr_txn_commit(t, NULL);
  t = NULL;
  if (rc) { rc = cli_fail_write(rc, _("cannot store the erasure")); goto out; }
  kr_node_checkpoint(n);
  if (cli_json) rc = cli_print_json(json_pack("{s:b}", "ok", 1));
  else printf(_("erased %s: the data is deleted here, and the erasure reaches every other node "
              "with the next sync or bundle\n"), name[0] ? cli_safe(name, -1) : cli_safe(pos[0], -1));
out:
  kr_txn_abort(t);
  kr_node_close(n);
  free(o[0].vals);
  free(o[1].vals);
  free(pos);
  return rc;
}

static const char *op_name(int type)
{
  switch (type) {
  case KR_OP_SET: return "set";
  case KR_OP_ADD: return "add";
  case KR_OP_REMOVE: return "remove";
  case KR_OP_GRANT: return "grant consent";
  case KR_OP_WITHDRAW: return "withdraw consent";
  case KR_OP_ERASE: return "erase";
  case KR_OP_REGISTER: return "register";
  case KR_OP_KEY: return "key for a reader";
  case KR_OP_GROUP: return "sealed, not read here";
  default: return "deleted after erasure";
  }
}

static int change_row(void *ctx, const kr_change_info *c)
{
  json_t *arr = ctx, *j;
  char hex[65], t[32];

  cli_hex(c->origin, KR_NODE_LEN, hex);
  cli_time(c->hlc, 1, t);
  j = json_pack("{s:s, s:s, s:I, s:s}", "at", t, "by", hex, "seq", (json_int_t)c->seq,
                "action", op_name(c->type));
  if (c->field && kr_field_name(c->field))
    json_object_set_new(j, "field", json_string(kr_field_name(c->field)));
  json_array_append_new(arr, j);
  return 0;
}

int cmd_subject_export(int argc, char **argv)
{
  kr_node *n;
  kr_volunteer v;
  uint8_t id[KR_SUBJECT_LEN];
  char hex[65], now[32];
  json_t *j, *changes, *readers;
  int rc;

  if (argc != 1) return cli_usage("kring subject-export VOLUNTEER   (a name, an e-mail or an id)", argc ? _("too many arguments (put a name of several words in quotes)") : _("which volunteer? Give the name, the e-mail or the id"));
  if ((rc = cli_open(&n))) return rc;
  if ((rc = cli_subject(n, argv[0], id))) goto out;
  if ((rc = kr_node_volunteer(n, id, &v))) {
    rc = rc == KR_ESEALED ? cli_sealed(argv[0]) : cli_fail(_("reading %s: %s"), argv[0], cli_strerror(rc));
    goto out;
  }
  /* who reads the volunteer and why: the recipients an access request
   * names (an erased one has none) */
  if (v.erased) readers = json_array();
  else if (!(readers = cli_readers_json(n, id, &rc))) {
    rc = rc == KR_ESEALED ? cli_sealed(argv[0]) : cli_fail(_("reading %s: %s"), argv[0], cli_strerror(rc));
    kr_volunteer_free(&v);
    goto out;
  }
  cli_hex(kr_node_id(n), KR_NODE_LEN, hex);
  cli_time(kr_hlc_make(kr_node_now_ms(n), 0), 1, now);
  changes = json_array();
  if ((rc = kr_node_subject_ops(n, id, change_row, changes))) {
    rc = cli_fail(_("reading %s: %s"), argv[0], cli_strerror(rc));
    json_decref(changes);
    json_decref(readers);
    kr_volunteer_free(&v);
    goto out;
  }
  j = json_pack("{s:s, s:s, s:s, s:s, s:o, s:o, s:o, s:o, s:o}",
                "kind", "kring subject export", "exported_at", now,
                "exported_by_node", hex, "exported_by_org", kr_node_org(n),
                "volunteer", cli_volunteer_json(n, &v),
                "consent", cli_consent_json(n, id, 0),
                "consent_history", cli_consent_json(n, id, 1),
                "readers", readers,
                "changes", changes);
  rc = cli_print_json(j);
  kr_volunteer_free(&v);
out:
  kr_node_close(n);
  return rc;
}
