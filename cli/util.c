/* util: option parsing, errors and formatting for the kring commands. */
#include <errno.h>
#include <locale.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "crdt/err.h"
#include "sync/reason.h"

const char *cli_home;
int cli_json;

/* ---- text for a person to read ---------------------------------------------- */

#define SAFE_SLOTS 8

/* Characters that must not reach a terminal as they are. */
static int unsafe(uint32_t c)
{
  return c < 0x20 || (c >= 0x7f && c <= 0x9f) || (c >= 0x202a && c <= 0x202e) ||
         (c >= 0x2066 && c <= 0x2069) || c == 0x2028 || c == 0x2029;
}

const char *cli_safe(const char *s, int indent)
{
  static char *slot[SAFE_SLOTS];
  static int next;
  const unsigned char *p = (const unsigned char *)(s ? s : "");
  size_t len = strlen((const char *)p), cap, o = 0;
  const unsigned char *end = p + len;
  char *out;

  /* worst case: every byte becomes \xff or every line feed an indent */
  cap = len * (indent + 1 > 6 ? (size_t)indent + 1 : 6) + 1;
  if (!(out = malloc(cap))) return _("(out of memory)");
  free(slot[next]);
  slot[next] = out;
  next = (next + 1) % SAFE_SLOTS;
  while (*p) {
    uint32_t c;
    size_t n = kr_utf8_next(p, end, &c);
    if (!n) {
      o += (size_t)snprintf(out + o, cap - o, "\\x%02x", *p);
      p++;
      continue;
    }
    if (c == '\n' && indent >= 0) {
      out[o++] = '\n';
      memset(out + o, ' ', (size_t)indent);
      o += (size_t)indent;
    } else if (c == '\n' || c == '\t' || c == '\r') {
      out[o++] = '\\';
      out[o++] = c == '\n' ? 'n' : c == '\t' ? 't' : 'r';
    } else if (unsafe(c)) {
      o += (size_t)snprintf(out + o, cap - o, "\\u%04x", (unsigned)c);
    } else {
      memcpy(out + o, p, n);
      o += n;
    }
    p += n;
  }
  out[o] = 0;
  return out;
}

/* Format onto stderr as one line, whatever the arguments hold. */
static void vfail(const char *fmt, va_list ap)
{
  char buf[1024], *msg = buf;
  va_list ap2;
  int n;

  va_copy(ap2, ap);
  n = vsnprintf(buf, sizeof buf, fmt, ap);
  if (n >= (int)sizeof buf) {
    if ((msg = malloc((size_t)n + 1))) vsnprintf(msg, (size_t)n + 1, fmt, ap2);
    else msg = buf;       /* the message, cut short */
  }
  va_end(ap2);
  fprintf(stderr, "kring: %s", n < 0 ? fmt : cli_safe(msg, -1));
  if (msg != buf) free(msg);
}

/* ---- the language of the messages --------------------------------------- */

#ifndef KRING_LOCALEDIR
#define KRING_LOCALEDIR "/usr/share/locale"   /* CMake passes the installed one */
#endif

/* Is the catalogue under dir? */
static int has_catalogue(const char *dir)
{
  char mo[4300];   /* a dir of up to 4200, and the rest */
  snprintf(mo, sizeof mo, "%s/nl/LC_MESSAGES/kring.mo", dir);
  return access(mo, R_OK) == 0;
}

/* The messages' folder: next to the program in a build tree (locale/),
 * relative to an installed program (../share/locale, so a package
 * unpacked anywhere finds its own), else where CMake installs it. */
static void find_catalogue(char *out, size_t cap)
{
  char exe[4096], *slash;
  ssize_t len = readlink("/proc/self/exe", exe, sizeof exe - 1);

  if (len > 0) {
    exe[len] = 0;
    if ((slash = strrchr(exe, '/'))) {
      *slash = 0;
      snprintf(out, cap, "%s/locale", exe);
      if (has_catalogue(out)) return;
      snprintf(out, cap, "%s/../share/locale", exe);
      if (has_catalogue(out)) return;
    }
  }
  snprintf(out, cap, "%s", KRING_LOCALEDIR);
}

/* Does this locale name ask for Dutch (nl, nl_NL.UTF-8, nl_BE...)? */
static int dutch(const char *l)
{
  return l && strncmp(l, "nl", 2) == 0 && (l[2] == 0 || l[2] == '_' || l[2] == '.' || l[2] == '@');
}

void cli_i18n(void)
{
  static char dir[4200];
  const char *want = getenv("KRING_LANG"), *msgs = NULL;

  /* Only the messages follow the locale: numbers, dates, sorting and the
   * case of letters stay as they are, for the files kring writes. */
  if (want && want[0]) {
    /* KRING_LANG wins over the locale, and needs no nl_NL locale on the
     * system: gettext reads LANGUAGE whenever LC_MESSAGES is not "C". */
    setenv("LANGUAGE", dutch(want) ? "nl" : "en", 1);
    if (!setlocale(LC_MESSAGES, "C.UTF-8")) setlocale(LC_MESSAGES, "");
  } else if (!(msgs = setlocale(LC_MESSAGES, "")) || strcmp(msgs, "C") == 0) {
    /* LANG=nl_NL.UTF-8 on a system where that locale is not generated */
    const char *l = getenv("LC_ALL");
    if (!l || !l[0]) l = getenv("LC_MESSAGES");
    if (!l || !l[0]) l = getenv("LANG");
    if (dutch(l) && setlocale(LC_MESSAGES, "C.UTF-8")) {
      const char *lang = getenv("LANGUAGE");
      if (!lang || !lang[0]) setenv("LANGUAGE", "nl", 1);
    }
  }
  find_catalogue(dir, sizeof dir);
  bindtextdomain("kring", dir);
  bind_textdomain_codeset("kring", "UTF-8");
  textdomain("kring");
}

/* kr_strerror() in the reader's language. crdt/ knows nothing of gettext:
 * po/POTFILES lists crdt/err.h, whose KR_ERR_MAP texts xgettext finds
 * through the keyword X:2, and the translation happens here. */
const char *cli_strerror(int err)
{
  if (err != KR_OK && (err <= KR__ERR_FIRST || err >= KR__ERR_LAST))
    return _("unknown error");      /* what kr_strerror() says outside its table */
  return gettext(kr_strerror(err));
}

/* ---- reasons from node/ and sync/ ------------------------------------------ */

const char *cli_why(const char *why)
{
  return why && why[0] ? gettext(why) : why;    /* gettext("") is the catalogue's header */
}

#define REASON_PARTS 6

/* The pieces a format's conversions matched in a reason. */
struct parts {
  const char *at[REASON_PARTS];
  size_t len[REASON_PARTS];
  int n;
};

/* The conversion at *f (its '%'): %s, %d, %u, %llu, %zu, and in a
 * translation with a position (%2$s). Moves *f past it; *pos gets the
 * position, 0 when it has none. Returns its letter. */
static char conversion(const char **f, int *pos)
{
  const char *p = *f + 1, *digits = p;
  int n = 0;

  while (*p >= '0' && *p <= '9') n = n * 10 + (*p++ - '0');
  *pos = *p == '$' ? n : 0;
  if (*p == '$') p++;
  else p = digits;
  while (*p == 'l' || *p == 'z' || *p == 'h') p++;
  *f = *p ? p + 1 : p;
  return *p;
}

/* Whether format f made text t; the pieces go to p. A %s takes the
 * shortest piece that lets the rest match, a number its digits. */
static int match(const char *f, const char *t, struct parts *p)
{
  int i, pos;
  char c;

  for (; *f != '%'; f++, t++) {
    if (*f != *t) return 0;
    if (!*f) return 1;
  }
  if (f[1] == '%') return *t == '%' && match(f + 2, t + 1, p);
  c = conversion(&f, &pos);
  if ((i = p->n) == REASON_PARTS) return 0;
  p->n++;
  p->at[i] = t;
  if (c == 's') {
    for (size_t len = 0, max = strlen(t); len <= max; len++) {
      p->len[i] = len;
      if (match(f, t + len, p)) return 1;
    }
  } else if (c == 'd' || c == 'u') {
    size_t sign = c == 'd' && *t == '-', len = sign;
    while (t[len] >= '0' && t[len] <= '9') len++;
    p->len[i] = len;
    if (len > sign && match(f, t + len, p)) return 1;
  }
  p->n = i;
  return 0;
}

static const char *reason(const char *why, char *buf, size_t cap, int depth);

/* The translated format tf filled in with the pieces of p, each %s piece
 * translated in turn. */
static void refill(const char *tf, const struct parts *p, int depth, char *buf, size_t cap)
{
  size_t o = 0;
  int next = 0;

  while (*tf && o + 1 < cap) {
    char piece[400], tr[400];
    const char *s;
    int pos, i;
    char c;
    if (*tf != '%' || tf[1] == '%') {
      buf[o++] = *tf;
      tf += *tf == '%' ? 2 : 1;
      continue;
    }
    c = conversion(&tf, &pos);
    if ((i = pos ? pos - 1 : next++) >= p->n) continue;
    snprintf(piece, sizeof piece, "%.*s", (int)p->len[i], p->at[i]);
    s = c == 's' ? reason(piece, tr, sizeof tr, depth + 1) : piece;
    o += (size_t)snprintf(buf + o, cap - o, "%s", s);
    if (o >= cap) o = cap - 1;
  }
  buf[o] = 0;
}

/* Of the formats that made why, the longest is the one: "handshake
 * failed: %s (another network, ...)" rather than "handshake failed: %s". */
static const char *reason(const char *why, char *buf, size_t cap, int depth)
{
  const char *t = cli_why(why), *best = NULL;
  struct parts p, bp = {{NULL}, {0}, 0};

  if (t != why || !why || depth > 3) return t;
  for (size_t i = 0; kr_sync_reasons[i]; i++) {
    const char *f = kr_sync_reasons[i];
    p.n = 0;
    if (strchr(f, '%') && (!best || strlen(f) > strlen(best)) && match(f, why, &p)) {
      best = f;
      bp = p;
    }
  }
  if (!best || (t = gettext(best)) == best) return why;
  refill(t, &bp, depth, buf, cap);
  return buf;
}

const char *cli_reason(const char *why, char *buf, size_t cap)
{
  return reason(why, buf, cap, 0);
}

/* ---- a damaged or read-only store -------------------------------------- */

static int trouble_said;       /* the line for the store's trouble is out */

static int say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

int cli_damaged(const char *why)
{
  trouble_said = 1;
  /* the plain line first; SQLite's words (page numbers, for kring check)
   * at the end, for whoever helps */
  return say(_("the store in %s is damaged. Restore %s from a backup; or move it aside, ask a "
               "member for an invite and join again as a new node, which gets the whole register "
               "in their bundle (admin guide: \"A damaged store\"). Details: %s"),
             cli_home, cli_home, why);
}

/* Why the home cannot be written, as far as the file system tells. */
static const char *readonly_reason(void)
{
  char db[4096];
  struct statvfs v;

  snprintf(db, sizeof db, "%s/kring.db", cli_home);
  if (statvfs(cli_home, &v) == 0 && (v.f_flag & ST_RDONLY))
    return _("the disk holding it is mounted read-only");
  if (access(cli_home, W_OK) != 0) return _("the folder is not writable for this user");
  if (access(db, W_OK) != 0) return _("kring.db is not writable for this user");
  return _("SQLite could not write to it");
}

int cli_readonly(void)
{
  if (trouble_said) return CLI_FAIL;
  trouble_said = 1;
  return say(_("cannot change the store in %s: it is read-only (%s). Reading works; to change it, "
               "make %s and the files in it writable for this user"), cli_home, readonly_reason(),
             cli_home);
}

int cli_store_trouble(void)
{
  const char *why;
  int t = kr_node_store_error(&why);

  if (!t || trouble_said) return t != 0;
  if (t == KR_EDAMAGED) return cli_damaged(cli_why(why)), 1;
  cli_readonly();
  return 1;
}

static int say(const char *fmt, ...)
{
  va_list ap;
  fputs("kring: ", stderr);
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fputc('\n', stderr);
  return CLI_FAIL;
}

int cli_fail(const char *fmt, ...)
{
  va_list ap;
  /* A failure after SQLite found the store damaged or refused a write:
   * that is the cause to tell, whatever the command made of it. */
  if (cli_store_trouble()) return CLI_FAIL;
  va_start(ap, fmt);
  vfail(fmt, ap);
  va_end(ap);
  fputc('\n', stderr);
  return CLI_FAIL;
}

int cli_usage(const char *usage, const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  vfail(fmt, ap);
  va_end(ap);
  fprintf(stderr, "\n%s %s\n", _("usage:"), usage);
  return CLI_USAGE;
}

/* The node cli_open opened and its organisation, for cli_sealed. */
static char opened_org[KR_ORG_MAX + 1];
static kr_node *opened_node;

int cli_sealed(const char *arg)
{
  const char *org = opened_org[0] ? opened_org : _("this organisation");
  char reg[KR_ORG_MAX + 1] = "";
  uint8_t id[KR_SUBJECT_LEN];
  if (cli_store_trouble()) return CLI_FAIL;
  /* who registered it is known in clear: the one to ask */
  if (arg && opened_node && kr_node_find(opened_node, arg, id) == KR_ESEALED &&
      kr_node_registrar_org(opened_node, id, reg, sizeof reg) != 0)
    reg[0] = 0;
  fputs("kring: ", stderr);
  if (arg) fprintf(stderr, "%s: ", cli_safe(arg, -1));
  if (reg[0])
    /* TRANSLATORS: the sealed text (KR_ESEALED), the organisation that
     * registered the volunteer, then this organisation's name, twice. */
    fprintf(stderr, _("%s. To read this volunteer here, ask %s (the organisation that registered "
                      "the volunteer) to record the volunteer's consent for %s (kring consent "
                      "grant VOLUNTEER --purpose P --to \"%s\"), then sync with it or import its "
                      "bundle\n"),
            cli_strerror(KR_ESEALED), cli_safe(reg, -1), cli_safe(org, -1), cli_safe(org, -1));
  else
    /* TRANSLATORS: the sealed text (KR_ESEALED), then this organisation's
     * name, twice. */
    fprintf(stderr, _("%s. To read this volunteer here, ask the organisation that registered the "
                      "volunteer to record the volunteer's consent for %s (kring consent grant "
                      "VOLUNTEER --purpose P --to \"%s\"), then sync with it or import its "
                      "bundle\n"),
            cli_strerror(KR_ESEALED), cli_safe(org, -1), cli_safe(org, -1));
  return CLI_SEALED;
}

int cli_fail_write(int err, const char *what)
{
  if (err == KR_ESEALED) return cli_sealed(NULL);
  if (err == KR_ENOTMEMBER)
    return cli_fail(_("%s: this node is waiting to be admitted to its network, and until then "
                      "it can change nothing. Ask the member who invited you to run kring member "
                      "accept with your join request, then import the bundle they send you "
                      "(kring bundle import FILE)"), what);
  return cli_fail("%s: %s", what, cli_strerror(err));
}

int cli_fail_kr(int err, const char *what, const char *why)
{
  if (err == KR_ESEALED) return cli_sealed(NULL);
  if (err == KR_EVALIDATION && why)
    return cli_fail("%s: %s", what, cli_why(why));
  return cli_fail("%s: %s", what, cli_strerror(err));
}

static cli_opt *find(cli_opt *opts, size_t nopts, const char *name, size_t len)
{
  for (size_t i = 0; i < nopts; i++)
    if (strlen(opts[i].name) == len && strncmp(opts[i].name, name, len) == 0)
      return &opts[i];
  return NULL;
}

int cli_parse(int argc, char **argv, cli_opt *opts, size_t nopts,
              const char **pos, size_t *npos, const char *usage)
{
  int only_pos = 0;

  *npos = 0;
  for (int i = 0; i < argc; i++) {
    const char *a = argv[i], *eq, *val = NULL;
    cli_opt *o;
    size_t len;
    if (only_pos || strncmp(a, "--", 2) != 0 || a[2] == 0) {
      if (strcmp(a, "--") == 0 && !only_pos) { only_pos = 1; continue; }
      pos[(*npos)++] = a;
      continue;
    }
    eq = strchr(a + 2, '=');
    len = eq ? (size_t)(eq - a - 2) : strlen(a + 2);
    if (!(o = find(opts, nopts, a + 2, len)))
      return cli_usage(usage, _("unknown option '%.*s'"), (int)len + 2, a);
    if (o->has_arg) {
      if (eq) val = eq + 1;
      else if (i + 1 < argc) val = argv[++i];
      else return cli_usage(usage, _("option '--%s' needs a value"), o->name);
    } else if (eq) {
      return cli_usage(usage, _("option '--%s' takes no value"), o->name);
    }
    if (o->n && !o->multi)
      return cli_usage(usage, _("option '--%s' given twice"), o->name);
    if (o->has_arg) {
      const char **nv = realloc(o->vals, (o->n + 1) * sizeof *nv);
      if (!nv) return cli_fail(_("out of memory"));
      o->vals = nv;
      o->vals[o->n] = val;
    }
    o->n++;
  }
  return CLI_OK;
}

const char *cli_val(const cli_opt *o)
{
  return o->n && o->vals ? o->vals[o->n - 1] : NULL;
}

static uint64_t test_now;

static uint64_t fixed_clock(void *ctx)
{
  (void)ctx;
  return test_now;
}

void cli_test_clock(void)
{
  const char *e = getenv("KRING_TEST_NOW_MS");
  if (e && e[0] && (test_now = strtoull(e, NULL, 10)))
    kr_node_set_default_clock(fixed_clock, NULL);
}

uint64_t cli_now_ms(void)
{
  struct timespec ts;
  if (test_now) return test_now;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* A key file that is not the documented layout: say how it is wrong. */
static int bad_key(void)
{
  char path[4096], why[96];
  struct stat st;

  snprintf(path, sizeof path, "%s/node.key", cli_home);
  if (stat(path, &st) == 0 && !S_ISREG(st.st_mode))
    snprintf(why, sizeof why, "%s", _("it is not a regular file"));
  else if (stat(path, &st) == 0 && st.st_size != 64)
    snprintf(why, sizeof why, _("it is %lld bytes, not 64"), (long long)st.st_size);
  else
    snprintf(why, sizeof why, "%s", _("its second half is not the public key of its first"));
  return cli_fail(_("%s is not a kring node key (%s; it must be the 32-byte secret seed, then "
                    "the public key that seed makes). Restore node.key from the backup of %s; "
                    "without it this node cannot sign, so join the network again as a new node"),
                  path, why, cli_home);
}

int cli_open(kr_node **n)
{
  int rc = kr_node_open(cli_home, n);
  const char *why;

  switch (rc) {
  case 0:
    /* Changes held until this clock reached them: applied now, when the
     * store is writable (read-only, a writer applies them later). */
    kr_node_release_held(*n);
    snprintf(opened_org, sizeof opened_org, "%s", kr_node_org(*n));
    opened_node = *n;
    return CLI_OK;
  case KR_EBADKEY: return bad_key();
  case KR_EDAMAGED:
    kr_node_store_error(&why);
    return cli_damaged(why ? cli_why(why) : _("SQLite cannot read it"));
  case KR_EREADONLY:
    kr_node_store_error(&why);
    trouble_said = 1;
    return say(_("cannot open the store in %s: it is read-only (%s) and %s. Make %s "
                 "writable for this user, or copy it to a writable place and use --home COPY"),
               cli_home, readonly_reason(), why ? cli_why(why) : _("SQLite cannot read it so"),
               cli_home);
  case KR_ENOTFOUND:
    return cli_fail(_("no kring node in %s (create one with: kring init --org NAME)"), cli_home);
  case KR_EKEYPERM:
    return cli_fail(_("%s/node.key is readable by group or others; refusing to start "
                      "(fix with: chmod 600 %s/node.key)"), cli_home, cli_home);
  case KR_EUNKNOWN:
    return cli_fail(_("the store in %s was made by a newer kring"), cli_home);
  case KR_EIO: {
    char path[4096];
    FILE *f;
    snprintf(path, sizeof path, "%s/node.key", cli_home);
    if (!(f = fopen(path, "rb")))
      return cli_fail(_("cannot read %s: %s"), path, strerror(errno));
    fclose(f);
    return cli_fail(_("cannot open node in %s: %s"), cli_home, cli_strerror(rc));
  }
  default:
    return cli_fail(_("cannot open node in %s: %s"), cli_home, cli_strerror(rc));
  }
}

/* ---- why a file cannot be written ------------------------------------------ */

int cli_write_problem(const char *path, char *why, size_t cap)
{
  char dir[4096], *slash;
  struct stat st;
  struct statvfs v;

  snprintf(dir, sizeof dir, "%s", path);
  while ((slash = strrchr(dir, '/')) && slash[1] == 0 && slash != dir) *slash = 0;
  if (!(slash = strrchr(dir, '/'))) snprintf(dir, sizeof dir, ".");
  else if (slash == dir) dir[1] = 0;
  else *slash = 0;
  if (stat(dir, &st) != 0) {
    if (errno == EACCES)
      snprintf(why, cap, _("permission denied: this user may not look into %s; pick a folder "
                           "of your own, or ask the computer's administrator"), dir);
    else
      snprintf(why, cap, _("the folder %s does not exist (a USB stick not plugged in, or a "
                           "typing error?); create it (mkdir -p %s) or pick another"), dir, dir);
    return 1;
  }
  if (!S_ISDIR(st.st_mode)) {
    snprintf(why, cap, _("%s is a file, not a folder; pick another place"), dir);
    return 1;
  }
  if (access(dir, W_OK) != 0) {
    snprintf(why, cap, _("permission denied: this user may not write in %s; pick a folder of "
                         "your own (such as your home folder), or ask the computer's "
                         "administrator"), dir);
    return 1;
  }
  if (statvfs(dir, &v) == 0 && (v.f_flag & ST_RDONLY)) {
    snprintf(why, cap, _("the disk holding %s is read-only (a write-protected USB stick?); use "
                         "another"), dir);
    return 1;
  }
  if (statvfs(dir, &v) == 0 && v.f_blocks > 0 && v.f_bavail == 0) {
    snprintf(why, cap, _("the disk holding %s is full; free some space or use another disk"), dir);
    return 1;
  }
  if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
    snprintf(why, cap, _("%s is a folder; give a file name in it"), path);
    return 1;
  }
  return 0;
}

/* ---- a volunteer by id, name or e-mail ------------------------------------ */

#define MATCH_MAX 10        /* candidates shown when a name is not unique */

struct vmatch {
  kr_node *n;
  const char *arg;
  int email;                /* arg holds '@': compare the e-mail */
  int exact;                /* collect exact matches only */
  uint8_t id[MATCH_MAX][KR_SUBJECT_LEN];
  size_t hits;
};

static int all_hex(const char *s)
{
  if (!*s) return 0;
  for (; *s; s++)
    if (!strchr("0123456789abcdefABCDEF", *s)) return 0;
  return 1;
}

/* Compare, ignoring case and blanks at either end. */
static int same_text(const char *a, const char *b)
{
  size_t la, lb;
  while (*a == ' ') a++;
  while (*b == ' ') b++;
  la = strlen(a);
  lb = strlen(b);
  while (la && a[la - 1] == ' ') la--;
  while (lb && b[lb - 1] == ' ') lb--;
  return la == lb && strncasecmp(a, b, la) == 0;
}

static int vmatch_row(void *ctx, const uint8_t id[KR_SUBJECT_LEN])
{
  struct vmatch *m = ctx;
  kr_volunteer v;
  int take = !m->exact;

  if (kr_node_volunteer(m->n, id, &v)) return 0;
  if (!v.erased && m->exact) {
    const char *have = v.val.v[m->email ? KR_F_EMAIL : KR_F_NAME];
    take = have && same_text(have, m->arg);
  }
  if (v.erased) take = 0;
  kr_volunteer_free(&v);
  if (!take) return 0;
  for (size_t i = 0; i < m->hits && i < MATCH_MAX; i++)
    if (!memcmp(m->id[i], id, KR_SUBJECT_LEN)) return 0;
  if (m->hits < MATCH_MAX) memcpy(m->id[m->hits], id, KR_SUBJECT_LEN);
  m->hits++;
  return 0;
}

/* The candidates, one line each on stderr: short id, name, city. */
static void candidates(kr_node *n, const struct vmatch *m)
{
  for (size_t i = 0; i < m->hits && i < MATCH_MAX; i++) {
    kr_volunteer v;
    char hex[33];
    cli_hex(m->id[i], KR_SUBJECT_LEN, hex);
    if (kr_node_volunteer(n, m->id[i], &v)) continue;
    fprintf(stderr, "  %.8s  %-28s %s\n", hex, cli_safe(v.val.v[KR_F_NAME], -1),
            cli_safe(v.val.v[KR_F_CITY], -1));
    kr_volunteer_free(&v);
  }
  if (m->hits > MATCH_MAX)
    fprintf(stderr, _("  ... and %zu more\n"), m->hits - MATCH_MAX);
}

int cli_subject_min(kr_node *n, const char *arg, uint8_t id[static KR_SUBJECT_LEN], size_t minhex)
{
  struct vmatch m;
  size_t len = strlen(arg);
  int rc, byid = 0;

  memset(&m, 0, sizeof m);
  m.n = n;
  m.arg = arg;
  m.email = strchr(arg, '@') != NULL;
  if (!len) return cli_fail(_("no volunteer given: give a name, an e-mail address or the id "
                              "kring volunteer add printed"));
  /* an id, or a unique start of one */
  if (all_hex(arg) && len >= 4) {
    rc = kr_node_find(n, arg, id);
    if (rc == 0) byid = 1;
    else if (rc == KR_ESEALED)
      return cli_sealed(arg);
    else if (rc == KR_EAMBIGUOUS)
      return cli_fail(_("more than one volunteer's id starts with %s; give more of the id, or "
                        "the name"), arg);
    else if (rc != KR_ENOTFOUND && rc != KR_EINVAL)
      return cli_fail(_("looking up %s: %s"), arg, cli_strerror(rc));
  }
  /* a name or an e-mail address, exactly (any case) */
  m.exact = 1;
  if (m.email) {
    kr_filter f = {NULL, NULL, NULL, NULL};
    rc = kr_node_list(n, &f, vmatch_row, &m);
  } else {
    rc = kr_node_search(n, arg, vmatch_row, &m);
    if (rc == KR_EINVAL) rc = 0;     /* nothing FTS can search for: no name matches */
  }
  if (rc) return cli_fail(_("looking up %s: %s"), arg, cli_strerror(rc));
  if (byid && m.hits == 0) {
    if (len < minhex)
      return cli_fail(_("'%s' is too short an id for this command, which cannot be undone: "
                        "give at least %zu characters of the id, or the name"), arg, minhex);
    return CLI_OK;
  }
  if (byid) {     /* an id prefix that is also someone's name */
    memcpy(m.id[m.hits < MATCH_MAX ? m.hits : MATCH_MAX - 1], id, KR_SUBJECT_LEN);
    m.hits++;
  }
  /* not exact: every volunteer whose name holds these words */
  if (m.hits == 0 && !m.email) {
    m.exact = 0;
    rc = kr_node_search(n, arg, vmatch_row, &m);
    if (rc && rc != KR_EINVAL) return cli_fail(_("looking up %s: %s"), arg, cli_strerror(rc));
    if (m.hits == 1 && minhex > 4) {
      /* a command that cannot be undone takes the whole name */
      cli_fail(_("no volunteer is named exactly '%s'; one is close (below). Give the whole "
                 "name, the e-mail address or the id"), arg);
      candidates(n, &m);
      return CLI_FAIL;
    }
  }
  if (m.hits == 1) {
    memcpy(id, m.id[0], KR_SUBJECT_LEN);
    return CLI_OK;
  }
  if (m.hits == 0) {
    if (all_hex(arg) && len >= 4)
      return cli_fail(_("no volunteer with id %s or named '%s' on this node; find them with: "
                        "kring volunteer search WORD"), arg, arg);
    return cli_fail(m.email ? _("no volunteer with e-mail '%s' on this node; look with kring "
                                "volunteer search WORD (an erased volunteer is found by id only, "
                                "and one whose consent does not name this organisation cannot "
                                "be read here)")
                            : _("no volunteer named '%s' on this node; look with kring volunteer "
                                "search WORD (an erased volunteer is found by id only, and one "
                                "whose consent does not name this organisation cannot be read "
                                "here)"), arg);
  }
  cli_fail(_("'%s' matches %zu volunteers; give the id (first 8 characters are enough) or the "
             "e-mail address of the one you mean:"), arg, m.hits);
  candidates(n, &m);
  return CLI_FAIL;
}

int cli_subject(kr_node *n, const char *arg, uint8_t id[static KR_SUBJECT_LEN])
{
  return cli_subject_min(n, arg, id, 4);
}

int cli_confirm(const char *what, const char *answer, int yes)
{
  char line[512];
  size_t len;
  FILE *tty;

  if (yes) return CLI_OK;
  if (!isatty(0) || !(tty = fopen("/dev/tty", "r+"))) {
    /* TRANSLATORS: %s is the caller's sentence, which ends in "This" ("Dit"). */
    return cli_fail(_("%s cannot be undone, and there is no terminal to ask for confirmation; "
                      "run it on a terminal, or add --yes in a script"), what);
  }
  /* TRANSLATORS: %s ends in "This" ("Dit"); then what to type (name or id). */
  fprintf(tty, _("%s cannot be undone.\nTo go on, type %s: "), what, cli_safe(answer, -1));
  fflush(tty);
  if (!fgets(line, sizeof line, tty)) line[0] = 0;
  fclose(tty);
  len = strlen(line);
  while (len && (line[len - 1] == '\n' || line[len - 1] == '\r')) line[--len] = 0;
  if (!same_text(line, answer))
    return cli_fail(_("stopped: what you typed is not %s; nothing was changed"), answer);
  return CLI_OK;
}

void cli_hex(const uint8_t *b, size_t n, char *out)
{
  static const char d[] = "0123456789abcdef";
  for (size_t i = 0; i < n; i++) {
    out[2 * i] = d[b[i] >> 4];
    out[2 * i + 1] = d[b[i] & 15];
  }
  out[2 * n] = 0;
}

int cli_unhex(const char *s, uint8_t *out, size_t n)
{
  if (strlen(s) != 2 * n) return -1;
  for (size_t i = 0; i < n; i++) {
    unsigned v;
    if (sscanf(s + 2 * i, "%2x", &v) != 1) return -1;
    if (!strchr("0123456789abcdefABCDEF", s[2 * i]) || !strchr("0123456789abcdefABCDEF", s[2 * i + 1]))
      return -1;
    out[i] = (uint8_t)v;
  }
  return 0;
}

void cli_time(kr_hlc hlc, int iso, char out[32])
{
  time_t secs = (time_t)(kr_hlc_ms(hlc) / 1000);
  struct tm tm;
  if (iso) {
    gmtime_r(&secs, &tm);
    strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
  } else {
    localtime_r(&secs, &tm);
    strftime(out, 32, "%Y-%m-%d %H:%M:%S %Z", &tm);
  }
}

void cli_iso_local(const char *iso, char out[32])
{
  struct tm tm;
  time_t secs;

  memset(&tm, 0, sizeof tm);
  if (!iso || sscanf(iso, "%4d-%2d-%2dT%2d:%2d:%2dZ", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
                     &tm.tm_hour, &tm.tm_min, &tm.tm_sec) != 6) {
    snprintf(out, 32, "%s", iso ? iso : "");
    return;
  }
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  secs = timegm(&tm);
  localtime_r(&secs, &tm);
  strftime(out, 32, "%Y-%m-%d %H:%M:%S %Z", &tm);
}

void cli_ms_time(uint64_t ms, char out[32])
{
  time_t t = (time_t)(ms / 1000);
  struct tm tm;
  if (!ms) {
    snprintf(out, 32, "%s", _("never"));
    return;
  }
  localtime_r(&t, &tm);
  strftime(out, 32, "%Y-%m-%d %H:%M %Z", &tm);
}

struct find_member {
  const char *arg;          /* by name or hex prefix */
  size_t minhex;            /* digits a hex prefix needs */
  uint8_t found[KR_NODE_LEN];
  char org[KR_ORG_MAX + 1];
  int hits, removed;
};

/* A few names, so that a long log does not query the members per row. */
void cli_node_name(kr_node *n, const uint8_t id[static KR_NODE_LEN], char out[80])
{
  static struct { kr_node *n; uint8_t id[KR_NODE_LEN]; char name[80]; } cache[16];
  static int next;
  char hex[65], org[KR_ORG_MAX + 1];

  for (int i = 0; i < 16; i++)
    if (cache[i].n == n && memcmp(cache[i].id, id, KR_NODE_LEN) == 0) {
      memcpy(out, cache[i].name, 80);
      return;
    }
  cli_hex(id, KR_NODE_LEN, hex);
  if (memcmp(id, kr_node_id(n), KR_NODE_LEN) == 0)
    snprintf(out, 80, "%.12s (%.60s)", hex, cli_safe(kr_node_org(n), -1));
  else if (kr_node_member_org(n, id, org, sizeof org) == 1)
    snprintf(out, 80, "%.12s (%.60s)", hex, cli_safe(org, -1));
  else
    snprintf(out, 80, "%.12s", hex);
  cache[next].n = n;
  memcpy(cache[next].id, id, KR_NODE_LEN);
  memcpy(cache[next].name, out, 80);
  next = (next + 1) % 16;
}

static int by_arg(void *ctx, const kr_member *m)
{
  struct find_member *f = ctx;
  char hex[65];
  size_t al = strlen(f->arg);
  cli_hex(m->node, KR_NODE_LEN, hex);
  if ((m->admitted && strcasecmp(m->org, f->arg) == 0) ||
      (al >= f->minhex && al <= 64 && all_hex(f->arg) && strncasecmp(hex, f->arg, al) == 0)) {
    if (f->hits && memcmp(f->found, m->node, KR_NODE_LEN) == 0) return 0;
    memcpy(f->found, m->node, KR_NODE_LEN);
    snprintf(f->org, sizeof f->org, "%s", m->admitted ? m->org : "");
    f->removed = m->removed;
    f->hits++;
  }
  return 0;
}

struct names {
  char *out;
  size_t cap, len;
  int count, cut;
};

static int add_name(void *ctx, const kr_member *m)
{
  struct names *nm = ctx;
  const char *org;

  if (!m->admitted || m->removed || nm->cut) return 0;
  org = cli_safe(m->org, -1);
  if (nm->len + strlen(org) + 2 + 5 >= nm->cap) {     /* keep room for ", ..." */
    nm->len += (size_t)snprintf(nm->out + nm->len, nm->cap - nm->len, "%s",
                                nm->count ? ", ..." : "...");
    nm->cut = 1;
    return 0;
  }
  nm->len += (size_t)snprintf(nm->out + nm->len, nm->cap - nm->len, "%s%s",
                              nm->count ? ", " : "", org);
  nm->count++;
  return 0;
}

void cli_member_names(kr_node *n, char *out, size_t cap)
{
  struct names nm = {out, cap, 0, 0, 0};

  out[0] = 0;
  if (kr_node_members(n, add_name, &nm) < 0 || (!nm.count && !nm.cut))
    snprintf(out, cap, "%s", _("(none)"));
}

int cli_member(kr_node *n, const char *arg, uint8_t id[static KR_NODE_LEN], int *removed)
{
  return cli_member_min(n, arg, id, removed, 4);
}

int cli_member_min(kr_node *n, const char *arg, uint8_t id[static KR_NODE_LEN], int *removed,
                   size_t minhex)
{
  struct find_member f;
  int rc;

  memset(&f, 0, sizeof f);
  f.arg = arg;
  f.minhex = minhex;
  if ((rc = kr_node_members(n, by_arg, &f)) < 0)
    return cli_fail(_("reading the members: %s"), cli_strerror(rc));
  if (f.hits == 0) {
    char names[512];
    cli_member_names(n, names, sizeof names);
    if (all_hex(arg) && strlen(arg) < minhex && strlen(arg) >= 4)
      return cli_fail(_("'%s' is too short a node id for this command, which cannot be undone: "
                        "give the organisation's name (the members are: %s)"), arg, names);
    return cli_fail(_("no member '%s' in this network; give the organisation's name, as kring "
                      "member list shows it; the members are: %s"), arg, names);
  }
  if (f.hits > 1)
    return cli_fail(_("'%s' names more than one member; give the organisation's name"), arg);
  memcpy(id, f.found, KR_NODE_LEN);
  if (removed) *removed = f.removed;
  return CLI_OK;
}

int cli_print_json(json_t *j)
{
  int rc;
  if (!j) return cli_fail(_("out of memory"));
  rc = json_dumpf(j, stdout, JSON_INDENT(2) | JSON_ENSURE_ASCII * 0);
  fputc('\n', stdout);
  json_decref(j);
  return rc ? cli_fail(_("cannot write output")) : CLI_OK;
}

void cli_progress(const char *what, uint64_t done, uint64_t total, int last)
{
  static int tty = -1;
  if (tty < 0) tty = isatty(2);
  if (!tty) return;
  fputc('\r', stderr);
  fprintf(stderr, _("%s: %llu/%llu changes"), what, (unsigned long long)done,
          (unsigned long long)total);
  if (last) fputc('\n', stderr);
  fflush(stderr);
}
