/*
 * cli: shared pieces of the kring program: the option parser, output
 * helpers and the command entry points. Exit status: 0 success, 1 the
 * command failed (one line on stderr says why), 2 usage error, 3 the
 * volunteer is sealed: this node may not read it (cli_sealed).
 */
#ifndef KR_CLI_H
#define KR_CLI_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <libintl.h>

#include "node/node.h"

#define CLI_OK    0
#define CLI_FAIL  1
#define CLI_USAGE 2
#define CLI_SEALED 3   /* the volunteer given is one this node may not read */

/* Text for a person: _() translates it (gettext, domain "kring"), N_()
 * marks it for translation where it is defined (a table) and _() is
 * applied where it is printed. Field names, JSON, exit statuses and the
 * serve log lines meant for machines are never marked. */
#define _(s) gettext(s)
#define N_(s) s

extern const char *cli_home;   /* --home or KRING_HOME or ~/.kring */
extern int cli_json;           /* --json */

typedef struct {
  const char *name;      /* without the leading "--" */
  int has_arg;
  int multi;             /* may repeat */
  const char **vals;     /* OUT */
  size_t n;              /* OUT: times given */
} cli_opt;

/* Parse argv (after the command words) into opts and positional args.
 * Prints a usage error and returns CLI_USAGE on unknown or malformed
 * options. pos must hold argc entries. */
int cli_parse(int argc, char **argv, cli_opt *opts, size_t nopts,
              const char **pos, size_t *npos, const char *usage);
const char *cli_val(const cli_opt *o);   /* last value or NULL */

/*
 * s made safe to print for a person: control characters (C0, DEL, C1),
 * bidi embeddings, overrides and isolates, line and paragraph separators
 * and bytes that are not UTF-8 are shown escaped (\n, \t, \u202e,
 * \xff), so that a stored value can neither start a line of its own, nor
 * move the cursor, nor reorder the text around it. indent >= 0 is for
 * multi-line text: a line feed starts a new line indented by that many
 * spaces, under the value. NULL reads as "". The result stays valid until
 * the 8th next call (so at most 8 in one printf).
 */
const char *cli_safe(const char *s, int indent);

/* One line on stderr: "kring: " and the message, which passes through
 * cli_safe, so that it stays one line whatever the arguments hold. */
int cli_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int cli_usage(const char *usage, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* kr_strerror(err) translated: every message of a kr_ error printed for
 * a person goes through this. */
const char *cli_strerror(int err);
/* A reason node/ gave in English (a validator's why, the store's trouble;
 * marked N_() there, node/i18n.h), in the user's language when po/nl.po
 * has it, else as it is. NULL and "" stay as they are. */
const char *cli_why(const char *why);
/* A reason sync/ gave (kr_link_info.reason, a peer's last error), which
 * may be one of sync/'s formats filled in (sync/reason.h): in the user's
 * language, put together in buf (cap bytes) from the translated format
 * and its translated pieces; else as cli_why. The English goes to JSON. */
const char *cli_reason(const char *why, char *buf, size_t cap);
/* The line for a volunteer this node may not read (KR_ESEALED): what it
 * means and what to do (ask the organisation that registered it to record
 * consent for this one). arg: the volunteer as given, or NULL. Returns
 * CLI_SEALED. */
int cli_sealed(const char *arg);
/* Message for a kr_ error, with the reason a validator gave (KR_ESEALED:
 * the line of cli_sealed, and CLI_SEALED). */
int cli_fail_kr(int err, const char *what, const char *why);
/* Message for a failed edit or commit: a node not admitted yet is told
 * what to do; a sealed volunteer gets the line of cli_sealed. */
int cli_fail_write(int err, const char *what);

int cli_open(kr_node **n);
/* Why path cannot be created or written, in words with what to do (no
 * such folder, permission denied, read-only, disk full): 1 with why
 * filled, or 0 when nothing is known to be wrong. */
int cli_write_problem(const char *path, char *why, size_t cap);
/* The line for a damaged store (why: SQLite's words, or kring's). */
int cli_damaged(const char *why);
/* If kr_node_store_error() knows trouble with the store (damaged, or a
 * write refused on a read-only one), print its line once and return 1. */
int cli_store_trouble(void);
/* The line for a store that cannot be written (once); CLI_FAIL. */
int cli_readonly(void);
/* Tests only: KRING_TEST_NOW_MS fixes the clock of every node opened. */
void cli_test_clock(void);
uint64_t cli_now_ms(void);
/*
 * Resolve a volunteer given as an id (or a unique start of one, >= 4 hex
 * digits), a name or an e-mail address (exact, any case; else every name
 * holding the words). Prints the error, and the candidates (short id,
 * name, city) when more than one matches. cli_subject_min is for commands
 * that cannot be undone: an id must give minhex digits, a name in full.
 */
int cli_subject(kr_node *n, const char *arg, uint8_t id[static KR_SUBJECT_LEN]);
int cli_subject_min(kr_node *n, const char *arg, uint8_t id[static KR_SUBJECT_LEN], size_t minhex);
/* Before a command that cannot be undone: with yes, go on; on a terminal,
 * say what (one sentence) and ask to type answer; without one, refuse. */
int cli_confirm(const char *what, const char *answer, int yes);
#define CLI_MIN_HEX_DESTRUCTIVE 8

void cli_hex(const uint8_t *b, size_t n, char *out);
int cli_unhex(const char *s, uint8_t *out, size_t n);
/* "2026-11-22 14:03:12 CET" local with its zone, or ISO 8601 UTC when iso. */
void cli_time(kr_hlc hlc, int iso, char out[32]);
/* "2026-11-22T13:03:12Z" (as the JSON holds it) as local time with its zone. */
void cli_iso_local(const char *iso, char out[32]);
/* Milliseconds since the epoch as local "2026-11-22 14:03 CET", or "never" for 0. */
void cli_ms_time(uint64_t ms, char out[32]);
/* A short name for a node, for people: the first 12 hex digits and the
 * organisation's name, escaped as by cli_safe. */
void cli_node_name(kr_node *n, const uint8_t id[static KR_NODE_LEN], char out[80]);
/* Resolve a member by organisation name, node id, or id prefix (>= 4 hex
 * digits); prints the error. *removed (may be NULL) says if it was removed. */
int cli_member(kr_node *n, const char *arg, uint8_t id[static KR_NODE_LEN], int *removed);
/* The same for commands that cannot be undone: a hex prefix needs minhex. */
int cli_member_min(kr_node *n, const char *arg, uint8_t id[static KR_NODE_LEN], int *removed,
                   size_t minhex);
/* The organisation names of the current members, for a message:
 * "Voedselbank Noord, Buurtteam Oost", cut with ", ..." to fit cap. */
void cli_member_names(kr_node *n, char *out, size_t cap);
/* Progress on standard error when it is a terminal ("what: done/total"). */
void cli_progress(const char *what, uint64_t done, uint64_t total, int last);
/* Print a JSON value on stdout and free it. */
int cli_print_json(json_t *j);

/* cmd_purpose.c: 0 when purpose is on the network's list; else print why
 * (the nearest purposes on it, and how to add one) and return CLI_FAIL. */
int cli_purpose_known(kr_node *n, const char *purpose);

/* help.c: kring help, kring help COMMAND, kring COMMAND --help. */
int cli_help_all(const char *version);
/* Pick the language of the messages: KRING_LANG (nl, en) first, else the
 * locale (LANGUAGE, LC_ALL, LC_MESSAGES, LANG), and find the catalogue
 * (next to the program in a build tree, else installed). */
void cli_i18n(void);
int cli_help_command(const char *name);

int cmd_init(int argc, char **argv);
int cmd_id(int argc, char **argv);
int cmd_log(int argc, char **argv);
int cmd_digest(int argc, char **argv);
int cmd_check(int argc, char **argv);
int cmd_volunteer(int argc, char **argv);
int cmd_consent(int argc, char **argv);
int cmd_purpose(int argc, char **argv);
int cmd_erase(int argc, char **argv);
int cmd_subject_export(int argc, char **argv);
int cmd_network(int argc, char **argv);
int cmd_invite(int argc, char **argv);
int cmd_join(int argc, char **argv);
int cmd_member(int argc, char **argv);
int cmd_bundle(int argc, char **argv);
int cmd_serve(int argc, char **argv);
int cmd_peer(int argc, char **argv);
int cmd_sync(int argc, char **argv);
int cmd_status(int argc, char **argv);
int cmd_import(int argc, char **argv);
int cmd_export(int argc, char **argv);
/* Volunteers this node stopped reading (kr_node_access_lost), oldest
 * first: [{"volunteer": id, "at": ISO, "at_ms", "why"}]; NULL with *err. */
json_t *cli_access_lost_json(kr_node *n, int *err);
/* Them for a person, a line each (short id, date, reason; never a name);
 * last > 0: only the last ones, with a line for the rest. */
void cli_access_lost_print(const json_t *arr, size_t last);
/* kring log --exports (cmd_export.c) */
int cli_log_exports(kr_node *n);

/* Shared by show and subject-export. */
json_t *cli_volunteer_json(kr_node *n, const kr_volunteer *v);
/* Who reads a volunteer and why (kr_node_readers), one object per reader
 * and reason: {"node", "org", "reason": "registered"} or {"node", "org",
 * "reason": "consent", "purpose", "to": "all"|"member", "until"}. NULL
 * with *err set when they cannot be read. */
json_t *cli_readers_json(kr_node *n, const uint8_t id[static KR_SUBJECT_LEN], int *err);
/* The same as text for a person: "Buurtteam Oost: consent for matching
 * (to this organisation) until 2027-01-01". */
const char *cli_reader_text(const json_t *r, char *out, size_t cap);
json_t *cli_consent_json(kr_node *n, const uint8_t id[static KR_SUBJECT_LEN], int history);

#endif
