/* cmd_network: kring network, invite, join, member accept|list|remove. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "cli/cli.h"
#include "crdt/err.h"
#include "node/validate.h"
#include "sync/invite.h"
#include "sync/net.h"

#define DAY_MS (24ull * 3600 * 1000)

/* "30m", "24h", "7d": milliseconds, or 0 if malformed or out of range. */
static uint64_t parse_duration(const char *s)
{
  char *end;
  unsigned long long v = strtoull(s, &end, 10);
  uint64_t unit;

  if (end == s || s[0] == '-' || !end[0] || end[1]) return 0;
  switch (end[0]) {
  case 'm': unit = 60ull * 1000; break;
  case 'h': unit = 3600ull * 1000; break;
  case 'd': unit = DAY_MS; break;
  default: return 0;
  }
  if (v == 0 || v > 30 * DAY_MS / unit) return 0;
  return v * unit;
}

/* ---- kring network and member list --------------------------------------- */

struct list_ctx {
  kr_node *n;
  json_t *arr;
};

static int member_row(void *ctx, const kr_member *m)
{
  struct list_ctx *l = ctx;
  char hex[65], t[32], by[80], status[200];

  cli_hex(m->node, KR_NODE_LEN, hex);
  if (m->removed)
    snprintf(status, sizeof status, _("removed (after its change %llu): %s"),
             (unsigned long long)m->cutoff, cli_safe(m->reason, -1));
  else if (!m->admitted)
    snprintf(status, sizeof status, _("not admitted: its admission is void (below)"));
  else
    snprintf(status, sizeof status, "%s", m->founder ? _("founder") : _("member"));
  if (l->arr) {
    json_t *o = json_pack("{s:s, s:s, s:s, s:b, s:b}", "node_id", hex, "org", m->org, "kind",
                          m->kind, "founder", m->founder, "removed", m->removed);
    if (m->admitted) {
      cli_time(m->admitted_at.hlc, 1, t);
      cli_hex(m->admitted_at.origin, KR_NODE_LEN, by);
      json_object_set_new(o, "admitted_at", json_string(t));
      json_object_set_new(o, "admitted_by", json_string(by));
    }
    if (m->removed) {
      cli_time(m->removed_at.hlc, 1, t);
      cli_hex(m->removed_at.origin, KR_NODE_LEN, by);
      json_object_set_new(o, "removed_at", json_string(t));
      json_object_set_new(o, "removed_by", json_string(by));
      json_object_set_new(o, "reason", json_string(m->reason ? m->reason : ""));
      json_object_set_new(o, "last_counted_seq", json_integer((json_int_t)m->cutoff));
    }
    json_array_append_new(l->arr, o);
    return 0;
  }
  cli_time(m->admitted_at.hlc, 0, t);
  if (m->founder || !m->admitted) by[0] = 0;
  else cli_node_name(l->n, m->admitted_at.origin, by);
  /* Every member may admit: who admitted whom, and when, lets an
   * organisation see an admission it did not expect (and remove it). */
  printf("%.12s  %-28.28s %-9s %s%s%s%s%s%s\n", hex, cli_safe(m->org, -1), cli_safe(m->kind, -1),
         status, memcmp(m->node, kr_node_id(l->n), KR_NODE_LEN) == 0 ? _(" (this node)") : "",
         by[0] ? _(", admitted by ") : "", by, by[0] ? _(" on ") : m->founder ? _(" since ") : "",
         by[0] || m->founder ? t : "");
  return 0;
}

/* Admissions that are void: one invite admits one node, and another node
 * was admitted with the same invite first. */
static int void_row(void *ctx, const kr_void_admission *v)
{
  struct list_ctx *l = ctx;
  char hex[65], whex[65], t[32], wt[32], by[80], winner[80];

  cli_hex(v->node, KR_NODE_LEN, hex);
  cli_hex(v->winner, KR_NODE_LEN, whex);
  if (l->arr) {
    cli_time(v->at.hlc, 1, t);
    cli_time(v->winner_at.hlc, 1, wt);
    cli_hex(v->at.origin, KR_NODE_LEN, by);
    json_array_append_new(l->arr, json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "node_id", hex,
                                            "org", v->org ? v->org : "", "admitted_by", by,
                                            "admitted_at", t, "invite_admitted", whex,
                                            "invite_admitted_at", wt));
    return 0;
  }
  cli_time(v->at.hlc, 0, t);
  cli_time(v->winner_at.hlc, 0, wt);
  cli_node_name(l->n, v->at.origin, by);
  cli_node_name(l->n, v->winner, winner);
  printf(_("%.12s  %s, admitted by %s on %s: void, the invite had already admitted %s on %s.\n"
         "              %s must ask a member for a new invite and join with it.\n"),
         hex, cli_safe(v->org, -1), by, t, winner, wt, cli_safe(v->org, -1));
  return 0;
}

static int list_void(kr_node *n, json_t *arr)
{
  struct list_ctx l = {n, arr};
  int rc = kr_node_void_admissions(n, void_row, &l);
  return rc ? cli_fail(_("reading the members: %s"), cli_strerror(rc)) : CLI_OK;
}

/* 1 when a void admission is known (for the heading). */
static int any_void(void *ctx, const kr_void_admission *v)
{
  (void)v;
  *(int *)ctx = 1;
  return 1;
}

static int list_members(kr_node *n, json_t *arr)
{
  struct list_ctx l = {n, arr};
  int rc = kr_node_members(n, member_row, &l);
  return rc ? cli_fail(_("reading the members: %s"), cli_strerror(rc)) : CLI_OK;
}

int cmd_network(int argc, char **argv)
{
  uint8_t net[KR_NETWORK_LEN], founder[KR_NODE_LEN];
  char nhex[33], fname[80];
  kr_node *n;
  int rc, member;

  if (argc) return cli_usage("kring network", _("unexpected argument '%s'"), argv[0]);
  if ((rc = cli_open(&n))) return rc;
  kr_node_network(n, net, founder);
  cli_hex(net, KR_NETWORK_LEN, nhex);
  cli_node_name(n, founder, fname);
  member = kr_node_is_member(n, kr_node_id(n));
  if (cli_json) {
    json_t *o, *arr = json_array(), *va = json_array();
    char fhex[65];
    cli_hex(founder, KR_NODE_LEN, fhex);
    if ((rc = list_members(n, arr)) || (rc = list_void(n, va))) {
      json_decref(arr);
      json_decref(va);
      goto out;
    }
    o = json_pack("{s:s, s:s, s:b, s:o, s:o}", "network_id", nhex, "founder", fhex, "member",
                  member == 1, "members", arr, "void_admissions", va);
    rc = cli_print_json(o);
  } else {
    int voids = 0;
    printf(_("network  %s\nfounder  %s\n"), nhex, fname);
    if (member != 1)
      printf(_("this node is not a member yet: a member must accept its join request and send it "
             "a bundle\n"));
    printf("\n");
    rc = list_members(n, NULL);
    kr_node_void_admissions(n, any_void, &voids);
    if (!rc && voids) {
      printf(_("\nadmissions that do not count (one invite admits one node):\n"));
      rc = list_void(n, NULL);
    }
  }
out:
  kr_node_close(n);
  return rc;
}

/* ---- invite and join request lines ------------------------------------------ */

/* What to do about an invite or join request that arrived damaged. */
static const char *resend(const char *what)
{
  return strcmp(what, "invite") == 0
    ? _("ask the member who sent it to send it again as a file (kring invite --out "
        "uitnodiging.txt, sent as an attachment), then run kring join uitnodiging.txt --org NAME")
    : _("ask them to send it again as a file (kring join ... --offline --out verzoek.txt, sent as "
        "an attachment), then run kring member accept verzoek.txt");
}

/* The format number after the stem of prefix in text, or -1. */
static int line_format(const char *text, const char *prefix)
{
  size_t sl = strlen(prefix) - 2;
  for (const char *p = text; (p = strstr(p, "kring-")); p++)
    if (strncmp(p, prefix, sl) == 0 && p[sl] >= '0' && p[sl] <= '9') return atoi(p + sl);
  return -1;
}

/* Each message whole for an invite and for a join request: in Dutch
 * they differ in more than the noun (deze uitnodiging, dit verzoek). */
static int invite_error(int rc, const char *what)
{
  int inv = strcmp(what, "invite") == 0;
  switch (rc) {
  case KR_EBADSIG:
    return cli_fail(inv ? _("this invite does not verify: a character in it was changed, often "
                            "by a mail program that wrapped or quoted it; %s")
                        : _("this join request does not verify: a character in it was changed, "
                            "often by a mail program that wrapped or quoted it; %s"),
                    resend(what));
  case KR_ETRUNCATED:
    return cli_fail(inv ? _("this invite is cut short: probably cut off, or wrapped by a mail "
                            "program with a part lost; %s")
                        : _("this join request is cut short: probably cut off, or wrapped by a "
                            "mail program with a part lost; %s"), resend(what));
  case KR_ETOOBIG:
    return cli_fail(inv ? _("this invite is too long to be a kring invite; %s")
                        : _("this join request is too long to be a kring join request; %s"),
                    resend(what));
  default:
    return cli_fail(inv ? _("this invite is damaged (%s): probably cut or wrapped by a mail "
                            "program; %s")
                        : _("this join request is damaged (%s): probably cut or wrapped by a "
                            "mail program; %s"), cli_strerror(rc), resend(what));
  }
}

/*
 * The invite or join request line in arg: the line itself (wrapped,
 * quoted, with text around it, as mail delivers it), or a file holding it.
 * Prints the error.
 */
static int line_arg(const char *arg, const char *prefix, const char *what, char *out, size_t cap)
{
  const char *stem = strcmp(prefix, KR_INVITE_PREFIX) == 0 ? KR_INVITE_STEM : KR_JOIN_STEM;
  const char *other = strcmp(prefix, KR_INVITE_PREFIX) == 0 ? KR_JOIN_STEM : KR_INVITE_STEM;
  int looks = strstr(arg, stem) || strstr(arg, other);
  char *text = NULL;
  FILE *f = NULL;
  int rc, inv = strcmp(what, "invite") == 0;

  /* a file first when there is one of that name (it may be called
   * kring-invite-...), else the line itself */
  if (!strchr(arg, '\n')) f = fopen(arg, "rb");
  if (f || !looks) {
    size_t len;
    if (!f) {
      if (errno == ENOENT && (strchr(arg, '/') || strchr(arg, '.')) && !strchr(arg, ' '))
        return cli_fail(inv ? _("no such file: %s; give the invite line itself (in quotes), or "
                                "the file it is in")
                            : _("no such file: %s; give the join request line itself (in "
                                "quotes), or the file it is in"), arg);
      if (errno != ENOENT)
        return cli_fail(_("cannot read %s: %s"), arg, strerror(errno));
      return cli_fail(inv ? _("this is not a kring invite (a kring invite starts with %s); give "
                              "the whole line in quotes, or the file it is in")
                          : _("this is not a kring join request (a kring join request starts "
                              "with %s); give the whole line in quotes, or the file it is in"),
                      prefix);
    }
    if (!(text = malloc(65536))) { fclose(f); return cli_fail(_("out of memory")); }
    len = fread(text, 1, 65535, f);
    text[len] = 0;
    fclose(f);
    if (memchr(text, 0, len)) text[0] = 0;
    arg = text;
  }
  rc = kr_invite_extract(arg, prefix, out, cap);
  if (rc == KR_EUNKNOWN) {
    int fmt = line_format(arg, prefix);
    const char *todo = fmt > KR_INVITE_FORMAT ? _("update kring, or ask for one made by this version")
                       : inv ? _("ask the member for a new invite (kring invite)")
                             : _("send the new organisation a new invite (kring invite) to join with");
    rc = cli_fail(inv ? fmt < KR_INVITE_FORMAT
                            ? _("this invite was made by an older kring (its line starts with "
                                "%.*s%d.; this kring reads %s): %s")
                            : _("this invite was made by a newer kring (its line starts with "
                                "%.*s%d.; this kring reads %s): %s")
                      : fmt < KR_INVITE_FORMAT
                            ? _("this join request was made by an older kring (its line starts "
                                "with %.*s%d.; this kring reads %s): %s")
                            : _("this join request was made by a newer kring (its line starts "
                                "with %.*s%d.; this kring reads %s): %s"),
                  (int)strlen(prefix) - 2, prefix, fmt, prefix, todo);
  } else if (rc == KR_ENOTFOUND && !text && strlen(arg) < 100 && !strpbrk(arg, " \t\r\n>") &&
             !strstr(arg, KR_INVITE_PREFIX) && !strstr(arg, KR_JOIN_PREFIX)) {
    /* a file name (kring-invite-buurtteam.txt), not a line */
    rc = cli_fail(inv ? _("no such file: %s; give the invite line itself (in quotes), or the file "
                          "it is in")
                      : _("no such file: %s; give the join request line itself (in quotes), or "
                          "the file it is in"), arg);
  } else if (rc == KR_ENOTFOUND && strstr(arg, other))
    rc = inv
      ? cli_fail(_("this is a join request, not an invite: the member who invited runs kring "
                 "member accept with it"))
      : cli_fail(_("this is an invite, not a join request: the new organisation runs kring join "
                 "with it"));
  else if (rc == KR_ENOTFOUND)
    rc = cli_fail(arg == text
                  ? inv ? _("the file holds no kring invite (the line starts with %s); ask for "
                            "it again")
                        : _("the file holds no kring join request (the line starts with %s); "
                            "ask for it again")
                  : inv ? _("this holds no kring invite (the line starts with %s); ask for it "
                            "again")
                        : _("this holds no kring join request (the line starts with %s); ask "
                            "for it again"), prefix);
  else if (rc)
    rc = invite_error(rc, what);
  free(text);
  return rc ? CLI_FAIL : CLI_OK;
}

/* Write line to path, readable by this user only (an invite is a secret
 * until it is used). */
static int write_line_file(const char *path, const char *line, const char *about)
{
  char why[600];
  FILE *f;
  int fd;

  if (cli_write_problem(path, why, sizeof why)) return cli_fail(_("cannot write %s: %s"), path, why);
  if ((fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600)) < 0 || !(f = fdopen(fd, "w"))) {
    int e = errno;
    if (fd >= 0) close(fd);
    return cli_fail(_("cannot write %s: %s"), path, strerror(e));
  }
  fchmod(fd, 0600);
  fprintf(f, "%s\n\n%s\n", line, about);
  if (fclose(f) != 0) {
    if (!cli_write_problem(path, why, sizeof why)) snprintf(why, sizeof why, "%s", strerror(errno));
    return cli_fail(_("cannot write %s: %s"), path, why);
  }
  return CLI_OK;
}

/* ---- kring invite ---------------------------------------------------------- */

int cmd_invite(int argc, char **argv)
{
  static const char usage[] = "kring invite [--expires 24h] [--address HOST:PORT]... [--out FILE]";
  cli_opt o[] = {{"expires", 1, 0, NULL, 0}, {"address", 1, 1, NULL, 0}, {"out", 1, 0, NULL, 0}};
  const char **pos = calloc((size_t)argc + 1, sizeof *pos);
  uint8_t net[KR_NETWORK_LEN], founder[KR_NODE_LEN];
  char line[KR_INVITE_TEXT_MAX + 1], t[32];
  uint64_t dur = 24 * 3600 * 1000ull, expires;
  kr_node *n = NULL;
  size_t npos;
  int rc;

  if (!pos) return cli_fail(_("out of memory"));
  if ((rc = cli_parse(argc, argv, o, 3, pos, &npos, usage))) goto out;
  if (npos) { rc = cli_usage(usage, _("unexpected argument '%s'"), pos[0]); goto out; }
  if (cli_val(&o[0]) && !(dur = parse_duration(cli_val(&o[0])))) {
    rc = cli_usage(usage, _("--expires takes a duration such as 30m, 24h or 7d (at most 30d)"));
    goto out;
  }
  if (o[1].n > KR_INVITE_ADDRS) { rc = cli_usage(usage, _("at most %d addresses"), KR_INVITE_ADDRS); goto out; }
  if ((rc = cli_open(&n))) goto out;
  if ((rc = kr_node_is_member(n, kr_node_id(n))) != 1) {
    rc = cli_fail(_("this node is not a member of its network yet, so it cannot invite: it waits "
                  "to be admitted (kring network says so); ask a member to invite the other "
                  "organisation"));
    goto out;
  }
  kr_node_network(n, net, founder);
  expires = (kr_node_now_ms(n) + dur + 59999) / 60000 * 60000;   /* as the invite holds it */
  if ((rc = kr_invite_make(kr_node_secret_key(n), net, founder, expires, o[1].vals, o[1].n, line,
                           sizeof line))) {
    rc = cli_fail(_("cannot make the invite: %s (addresses are HOST:PORT, up to %d characters)"),
                  cli_strerror(rc), KR_ADDR_MAX);
    goto out;
  }
  cli_ms_time(expires, t);
  if (cli_val(&o[2])) {
    char about[1024];
    snprintf(about, sizeof about,
             _("This is an invite to the kring network of %s. It works once, until %s.\n"
             "Keep it to yourself: whoever has it can join. To join, save this file and run:\n"
             "  kring join %s --org \"YOUR ORGANISATION\" --kind KIND%s\n"),
             kr_node_org(n), t, cli_val(&o[2]), o[1].n ? "" : " --offline");
    if ((rc = write_line_file(cli_val(&o[2]), line, about))) goto out;
  }
  if (cli_json) {
    rc = cli_print_json(json_pack("{s:s, s:s}", "invite", line, "expires", t));
  } else if (cli_val(&o[2])) {
    printf(_("wrote the invite to %s. It works once, until %s. Send the file as an attachment; "
           "the new organisation runs:\n  kring join %s --org NAME --kind KIND%s\n"),
           cli_safe(cli_val(&o[2]), -1), t, cli_safe(cli_val(&o[2]), -1),
           o[1].n ? _("   (while kring serve runs here)") : " --offline");
  } else {
    printf("%s\n", line);
    fprintf(stderr, _("kring: this invite works once, until %s. The new organisation runs:\n"
                    "kring join INVITE --org NAME --kind KIND%s\n"
                    "If a mail program may break the line, send it as a file instead: kring "
                    "invite --out uitnodiging.txt\n"), t,
            o[1].n ? _("   (while kring serve runs here)") : " --offline");
  }
out:
  kr_node_close(n);
  free(o[0].vals);
  free(o[1].vals);
  free(o[2].vals);
  free(pos);
  return rc;
}

/* ---- kring join ------------------------------------------------------------ */

/* Connect to the invite's addresses in turn until one admits us. */
static int join_online(kr_node *n, const kr_invite *inv, const char *request)
{
  kr_net_target t;
  char who[80], name[KR_PEER_NAME_MAX + 1];
  size_t k = 0;

  signal(SIGPIPE, SIG_IGN);
  for (size_t i = 0; i < inv->naddr; i++) {
    char why[600];
    memset(&t, 0, sizeof t);
    t.addr = inv->addr[i];
    fprintf(stderr, _("kring: connecting to %s ...\n"), cli_safe(t.addr, -1));
    if (kr_net_sync(n, &t, 1, request, NULL, NULL) == 0 && kr_node_is_member(n, kr_node_id(n)) == 1)
      break;
    fprintf(stderr, "kring: %s: %s\n", cli_safe(t.addr, -1),
            t.info.state == 1 ? _("not admitted")
                              : cli_safe(cli_reason(t.info.reason, why, sizeof why), -1));
    t.info.state = -1;
  }
  if (t.info.state != 1 || kr_node_is_member(n, kr_node_id(n)) != 1)
    return cli_fail(_("could not join: the node was created in %s, but it is not admitted yet. Run "
                    "the same kring join again when the inviter's kring serve can be reached (it "
                    "goes on with this node), or run it again with --offline --out verzoek.txt and "
                    "send that file to the inviter"), cli_home);
  /* the inviter becomes a peer, under its organisation's name */
  char org[KR_ORG_MAX + 1] = "";
  if (kr_node_member_org(n, inv->inviter, org, sizeof org) != 1) org[0] = 0;
  cli_node_name(n, inv->inviter, who);
  for (const char *p = org; *p && k < KR_PEER_NAME_MAX; p++)
    if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
        *p == '-' || *p == '_' || *p == '.')
      name[k++] = *p;
    else if (k && name[k - 1] != '-')
      name[k++] = '-';
  while (k && name[k - 1] == '-') k--;
  if (!k) k = (size_t)snprintf(name, sizeof name, "inviter");
  name[k] = 0;
  if (kr_node_addr_add(n, name, t.addr) == 0) kr_node_addr_result(n, name, t.info.peer, NULL);
  if (cli_json) {
    char hex[65];
    cli_hex(kr_node_id(n), KR_NODE_LEN, hex);
    return cli_print_json(json_pack("{s:s, s:s, s:s, s:I}", "node_id", hex, "peer", name,
                                    "address", t.addr, "received", (json_int_t)t.info.received));
  }
  printf(ngettext("joined: admitted by %s, received %llu change. Peer '%s' at %s is in the "
                  "address book;\nrun kring serve to keep in sync.\n",
                  "joined: admitted by %s, received %llu changes. Peer '%s' at %s is in the "
                  "address book;\nrun kring serve to keep in sync.\n",
                  (unsigned long)t.info.received),
         who, (unsigned long long)t.info.received, name, cli_safe(t.addr, -1));
  return CLI_OK;
}

int cmd_join(int argc, char **argv)
{
  static const char usage[] =
    "kring join INVITE|FILE --org NAME [--kind " KR_KINDS "] [--offline [--out FILE]]";
  cli_opt o[] = {{"org", 1, 0, NULL, 0}, {"kind", 1, 0, NULL, 0}, {"offline", 0, 0, NULL, 0},
                 {"out", 1, 0, NULL, 0}};
  const char **pos = calloc((size_t)argc + 1, sizeof *pos);
  char line[KR_INVITE_TEXT_MAX + 1], t[32], text[KR_INVITE_TEXT_MAX + 1];
  const char *kind, *why;
  kr_invite *inv = calloc(1, sizeof *inv);
  kr_node *n = NULL;
  size_t npos;
  int rc, reused = 0;

  if (!pos || !inv) { rc = cli_fail(_("out of memory")); goto out; }
  if ((rc = cli_parse(argc, argv, o, 4, pos, &npos, usage))) goto out;
  if (npos != 1) {
    rc = cli_usage(usage, npos ? _("one invite, please (the line in quotes, or the file it is in)")
                               : _("the invite is missing: give the line (in quotes) or the file"));
    goto out;
  }
  if (o[3].n && !o[2].n) { rc = cli_usage(usage, _("--out writes the join request of --offline")); goto out; }
  if (!cli_val(&o[0]) || !cli_val(&o[0])[0]) { rc = cli_usage(usage, _("--org NAME is required")); goto out; }
  kind = cli_val(&o[1]) ? cli_val(&o[1]) : "other";
  if (!kr_kind_ok(kind)) { rc = cli_usage(usage, _("unknown kind '%s'"), kind); goto out; }
  if (strlen(cli_val(&o[0])) > KR_ORG_MAX) {
    rc = cli_fail(_("organisation name longer than %d bytes"), KR_ORG_MAX);
    goto out;
  }
  if (kr_text_single_ok(cli_val(&o[0]), strlen(cli_val(&o[0])), &why)) {
    rc = cli_fail(_("--org '%s': %s"), cli_val(&o[0]), cli_why(why));
    goto out;
  }
  if ((rc = line_arg(pos[0], KR_INVITE_PREFIX, "invite", text, sizeof text))) goto out;
  if ((rc = kr_invite_parse(text, inv))) { rc = invite_error(rc, "invite"); goto out; }
  if (cli_now_ms() > inv->expires_ms) {
    cli_ms_time(inv->expires_ms, t);
    rc = cli_fail(_("this invite expired at %s; ask the member for a new one"), t);
    goto out;
  }
  if (!o[2].n && inv->naddr == 0) {
    rc = cli_fail(_("this invite carries no address to connect to: ask for one made with "
                  "kring invite --address HOST:PORT, or join with --offline"));
    goto out;
  }
  rc = kr_node_create_joining(cli_home, cli_val(&o[0]), kind, inv->network, inv->founder, &n);
  reused = rc == KR_EEXISTS;
  if (rc == KR_EEXISTS) {
    /* a join that was cut off, or that failed online and goes on offline,
     * is tried again with the node it made (the inviter accepts the same
     * request from the same node again) */
    uint8_t net[KR_NETWORK_LEN], founder[KR_NODE_LEN];
    if (kr_node_open(cli_home, &n) == 0) {
      kr_node_network(n, net, founder);
      if (memcmp(net, inv->network, KR_NETWORK_LEN) == 0 && strcmp(kr_node_org(n), cli_val(&o[0])) == 0)
        rc = 0;
      else {
        kr_node_close(n);
        n = NULL;
      }
    }
  }
  if (rc == KR_EEXISTS) {
    rc = cli_fail(_("%s already holds a kring node (of another network, or another organisation "
                  "name); refusing to overwrite it: give the new node another --home"), cli_home);
    goto out;
  }
  if (rc == KR_EBSN || rc == KR_EVALIDATION) {   /* the name, not the folder */
    rc = cli_fail(_("--org '%s': %s"), cli_val(&o[0]), cli_strerror(rc));
    goto out;
  }
  if (rc) {
    char reason[600];
    if (cli_write_problem(cli_home, reason, sizeof reason))
      rc = cli_fail(_("cannot create the node in %s: %s"), cli_home, reason);
    else
      rc = cli_fail(_("cannot create the node in %s: %s"), cli_home, cli_strerror(rc));
    goto out;
  }
  if ((rc = kr_node_set_inviter(n, inv->inviter))) {
    rc = cli_fail(_("cannot record the inviter: %s"), cli_strerror(rc));
    goto out;
  }
  if ((rc = kr_join_make(inv, kr_node_secret_key(n), cli_val(&o[0]), kind, line, sizeof line))) {
    rc = cli_fail(_("cannot make the join request: %s"), cli_strerror(rc));
    goto out;
  }
  if (!o[2].n) {
    rc = join_online(n, inv, line);
    goto out;
  }
  if (cli_val(&o[3])) {
    char about[1024];
    snprintf(about, sizeof about,
             _("This is the request of %s to join a kring network. The member who invited it\n"
             "saves this file and runs:\n  kring member accept %s\n"),
             cli_val(&o[0]), cli_val(&o[3]));
    if ((rc = write_line_file(cli_val(&o[3]), line, about))) {
      fprintf(stderr, _("kring: the node was created in %s; run the same kring join again with "
                      "another --out to write the request\n"), cli_safe(cli_home, -1));
      goto out;
    }
  }
  if (cli_json) {
    char hex[65];
    cli_hex(kr_node_id(n), KR_NODE_LEN, hex);
    rc = cli_print_json(json_pack("{s:s, s:s}", "node_id", hex, "join_request", line));
  } else if (cli_val(&o[3])) {
    printf(_("node %s in %s; wrote the join request to %s. Send that file to the member who "
           "invited you; they run: kring member accept %s, then give you a bundle, which you "
           "import with kring bundle import FILE.\n"), reused ? _("(made before) kept") : _("created"),
           cli_safe(cli_home, -1),
           cli_safe(cli_val(&o[3]), -1), cli_safe(cli_val(&o[3]), -1));
  } else {
    printf("%s\n", line);
    fprintf(stderr, _("kring: node %s in %s. Send the line above to the member who invited "
                    "you; they run: kring member accept REQUEST, then give you a bundle, which "
                    "you import with kring bundle import FILE. (If a mail program may break the "
                    "line, add --out verzoek.txt and send the file.)\n"),
            reused ? _("(made before) kept") : _("created"), cli_safe(cli_home, -1));
  }
out:
  kr_node_close(n);
  if (inv) sodium_memzero(inv, sizeof *inv);
  sodium_memzero(text, sizeof text);
  free(inv);
  for (int i = 0; i < 4; i++) free(o[i].vals);
  free(pos);
  return rc;
}

/* ---- kring member ------------------------------------------------------------ */

static int member_accept(kr_node *n, const char *arg)
{
  kr_join_req *req = calloc(1, sizeof *req);
  uint8_t iid[KR_SUBJECT_LEN];
  char hex[65], t[32], text[KR_INVITE_TEXT_MAX + 1];
  int rc;

  if (!req) return cli_fail(_("out of memory"));
  if ((rc = line_arg(arg, KR_JOIN_PREFIX, "join request", text, sizeof text))) goto out;
  if ((rc = kr_join_parse(text, req))) { rc = invite_error(rc, "join request"); goto out; }
  rc = kr_join_inviter(n, req);
  if (rc == KR_ENETWORK) {
    rc = cli_fail(_("this join request is for another kring network"));
    goto out;
  }
  if (rc == KR_EBADSIG) {
    /* the request arrived whole (its node signed it all): the invite in it
     * was not made by the member it names, for this network */
    rc = cli_fail(_("the invite in this join request does not verify: no member of this network "
                    "made it, so the node is not admitted"));
    goto out;
  }
  if (rc && rc != KR_ENOTMEMBER) {
    rc = cli_fail(_("reading the members: %s"), cli_strerror(rc));
    goto out;
  }
  if (rc == KR_ENOTMEMBER || (rc = kr_node_is_member(n, req->inv.inviter)) != 1) {
    rc = cli_fail(_("the invite was made by a node that is not a member of this network"));
    goto out;
  }
  if (kr_node_now_ms(n) > req->inv.expires_ms) {
    cli_ms_time(req->inv.expires_ms, t);
    rc = cli_fail(_("the invite in this join request expired at %s; send a new invite"), t);
    goto out;
  }
  kr_invite_id(&req->inv, iid);
  if ((rc = kr_node_invite_used(n, iid)) != 0) {
    rc = rc < 0 ? cli_fail(_("reading the members: %s"), cli_strerror(rc))
                : cli_fail(_("this invite has already been used; send a new invite"));
    goto out;
  }
  cli_hex(req->node, KR_NODE_LEN, hex);
  rc = kr_node_admit(n, req->node, req->org, req->kind, req->inv.invite_pk, req->proof);
  if (rc == KR_EEXISTS) {
    rc = cli_fail(_("node %.12s is a member already, or was removed (a removed node joins again "
                  "with a new node)"), hex);
    goto out;
  }
  if (rc == KR_ENOTMEMBER) { rc = cli_fail(_("this node is not a member, so it cannot admit")); goto out; }
  if (rc) { rc = cli_fail(_("cannot record the admission: %s"), cli_strerror(rc)); goto out; }
  if (cli_json)
    rc = cli_print_json(json_pack("{s:s, s:s, s:s}", "admitted", hex, "org", req->org, "kind", req->kind));
  else
    printf(_("admitted %s (%s), node %.12s. Give it a bundle with everything, for example on a "
           "USB stick:\n  kring bundle export --for \"%s\" --out FILE\n"), cli_safe(req->org, -1),
           cli_safe(req->kind, -1), hex, cli_safe(req->org, -1));
out:
  free(req);
  return rc;
}

static int member_remove(kr_node *n, const char *who, const char *reason, int yes)
{
  uint8_t id[KR_NODE_LEN], net[KR_NETWORK_LEN], founder[KR_NODE_LEN];
  char name[80], org[KR_ORG_MAX + 1] = "", what[400];
  int rc, removed;

  if ((rc = cli_member_min(n, who, id, &removed, CLI_MIN_HEX_DESTRUCTIVE))) return rc;
  cli_node_name(n, id, name);
  if (removed) return cli_fail(_("%s has been removed already; nothing to do"), name);
  if (memcmp(id, kr_node_id(n), KR_NODE_LEN) == 0)
    return cli_fail(_("a node cannot remove itself; ask another member to remove it"));
  kr_node_network(n, net, founder);
  if (memcmp(id, founder, KR_NODE_LEN) == 0)
    return cli_fail(_("%s founded this network and cannot be removed: no member can remove the "
                    "founder. To stop working with it, stop syncing with it (kring peer remove)"),
                    name);
  if (kr_node_member_org(n, id, org, sizeof org) != 1 || !org[0]) {
    char hex[65];
    cli_hex(id, KR_NODE_LEN, hex);
    snprintf(org, sizeof org, "%.12s", hex);
  }
  /* TRANSLATORS: ends in "This" ("Dit"): "... cannot be undone" follows. */
  snprintf(what, sizeof what, _("Removing %s from the network: every node the removal reaches "
           "refuses its changes and connections from then on, and it can only come back as a new "
           "node with a new invite. This"), name);
  if ((rc = cli_confirm(what, org, yes))) return rc;
  rc = kr_node_expel(n, id, reason);
  if (rc == KR_EFOUNDER)
    return cli_fail(_("%s founded this network and cannot be removed: no member can remove the "
                    "founder. To stop working with it, stop syncing with it (kring peer remove)"),
                    name);
  if (rc == KR_EBSN) return cli_fail(_("reason: %s"), cli_strerror(rc));
  if (rc == KR_ENOTMEMBER) return cli_fail(_("this node is not a member, so it cannot remove"));
  if (rc) return cli_fail(_("cannot record the removal: %s"), cli_strerror(rc));
  if (cli_json) {
    char hex[65];
    cli_hex(id, KR_NODE_LEN, hex);
    return cli_print_json(json_pack("{s:s}", "removed", hex));
  }
  printf(_("removed %s; its changes from now on are refused everywhere the removal arrives\n"), name);
  return CLI_OK;
}

int cmd_member(int argc, char **argv)
{
  static const char usage[] =
    "kring member accept REQUEST|FILE | list | remove ORGANISATION --reason TEXT [--yes]";
  cli_opt o[] = {{"reason", 1, 0, NULL, 0}, {"yes", 0, 0, NULL, 0}};
  const char **pos = calloc((size_t)argc + 1, sizeof *pos);
  kr_node *n = NULL;
  size_t npos;
  int rc;

  if (!pos) return cli_fail(_("out of memory"));
  if (argc < 1) { rc = cli_usage(usage, _("which member command?")); goto out; }
  if ((rc = cli_parse(argc - 1, argv + 1, o, 2, pos, &npos, usage))) goto out;
  if (strcmp(argv[0], "accept") == 0) {
    if (npos != 1 || o[0].n || o[1].n) {
      rc = cli_usage(usage, _("member accept takes one join request (the line, or the file it is in)"));
      goto out;
    }
    if ((rc = cli_open(&n))) goto out;
    rc = member_accept(n, pos[0]);
  } else if (strcmp(argv[0], "list") == 0) {
    if (npos || o[0].n || o[1].n) { rc = cli_usage(usage, _("member list takes no arguments")); goto out; }
    if ((rc = cli_open(&n))) goto out;
    if (cli_json) {
      json_t *arr = json_array();
      if ((rc = list_members(n, arr))) json_decref(arr);
      else rc = cli_print_json(arr);
    } else {
      rc = list_members(n, NULL);
    }
  } else if (strcmp(argv[0], "remove") == 0) {
    const char *reason = cli_val(&o[0]);
    if (npos != 1) {
      rc = cli_usage(usage, _("member remove takes one organisation (its name in quotes, or at least "
                            "8 characters of its node id)"));
      goto out;
    }
    const char *why;
    if (!reason || !reason[0] || strlen(reason) > KR_REASON_MAX) {
      rc = cli_usage(usage, _("--reason TEXT (up to %d characters) is required"), KR_REASON_MAX);
      goto out;
    }
    if (kr_text_single_ok(reason, strlen(reason), &why)) {
      rc = cli_fail(_("--reason '%s': %s"), reason, cli_why(why));
      goto out;
    }
    if ((rc = cli_open(&n))) goto out;
    rc = member_remove(n, pos[0], reason, o[1].n > 0);
  } else {
    rc = cli_usage(usage, _("unknown member command '%s'"), argv[0]);
  }
out:
  kr_node_close(n);
  free(o[0].vals);
  free(o[1].vals);
  free(pos);
  return rc;
}
