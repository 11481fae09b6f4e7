/*
 * main: the kring program. Global options (--home DIR, --json) may appear
 * anywhere; the first other word picks a command from the table below.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>

#include <sodium.h>
#include <sqlite3.h>
#include <uv.h>

#include "cli/cli.h"
#include "crdt/err.h"

#ifndef KRING_VERSION
#define KRING_VERSION "0.0.0"   /* CMake passes project(kring VERSION ...) */
#endif

static int cmd_help(int argc, char **argv);

/* KRING_REPORT_PEAK=1: print this process's peak resident memory (VmHWM)
 * on stderr at the end, for benchmarks. */
static void report_peak(void)
{
  char line[256];
  FILE *f;
  if (!getenv("KRING_REPORT_PEAK") || !(f = fopen("/proc/self/status", "r"))) return;
  while (fgets(line, sizeof line, f))
    if (strncmp(line, "VmHWM:", 6) == 0) fprintf(stderr, "kring: peak memory %s", line + 6);
  fclose(f);
}

/*
 * The node key, session keys and volunteers' data live in this process's
 * memory: no core dump may write them to disk (RLIMIT_CORE 0, and not
 * dumpable, which also covers a core_pattern pipe), and no other process
 * of this user may read them through ptrace or /proc/PID/mem (not
 * dumpable). Every command, first thing.
 */
static int harden(void)
{
  struct rlimit none = {0, 0};

  if (setrlimit(RLIMIT_CORE, &none) != 0) return -1;
  return prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
}

static const struct {
  const char *name;
  int (*run)(int argc, char **argv);
} commands[] = {
  {"init", cmd_init},
  {"id", cmd_id},
  {"volunteer", cmd_volunteer},
  {"consent", cmd_consent},
  {"purpose", cmd_purpose},
  {"erase", cmd_erase},
  {"subject-export", cmd_subject_export},
  {"network", cmd_network},
  {"invite", cmd_invite},
  {"join", cmd_join},
  {"member", cmd_member},
  {"bundle", cmd_bundle},
  {"serve", cmd_serve},
  {"sync", cmd_sync},
  {"peer", cmd_peer},
  {"status", cmd_status},
  {"import", cmd_import},
  {"export", cmd_export},
  {"log", cmd_log},
  {"digest", cmd_digest},
  {"check", cmd_check},
  {"help", cmd_help},
};

/* kring help [COMMAND] */
static int cmd_help(int argc, char **argv)
{
  if (argc > 1) return cli_usage("kring help [COMMAND]", _("one command at a time"));
  if (argc == 1) return cli_help_command(argv[0]);
  return cli_help_all(KRING_VERSION);
}

/* kring --version: ours, and the versions of the libraries it runs with. */
static int version(void)
{
  printf("kring %s\n", KRING_VERSION);
  printf("libsodium %s, SQLite %s, libuv %s\n", sodium_version_string(), sqlite3_libversion(),
         uv_version_string());
  return CLI_OK;
}

int main(int argc, char **argv)
{
  char **rest = calloc((size_t)argc + 1, sizeof *rest);
  static char defhome[4096];
  int nrest = 0, want_help = 0;

  cli_i18n();
  if (harden() != 0) {
    fprintf(stderr, "kring: %s\n", _("cannot turn off core dumps for this process; refusing to run"));
    free(rest);
    return CLI_FAIL;
  }
  if (!rest || sodium_init() < 0) {
    fprintf(stderr, "kring: %s\n", _("cannot initialise"));
    return CLI_FAIL;
  }
  cli_home = getenv("KRING_HOME");
  cli_test_clock();
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--") == 0) {
      while (i < argc) rest[nrest++] = argv[i++];
      break;
    }
    if (strcmp(argv[i], "--home") == 0) {
      if (i + 1 >= argc) {
        fprintf(stderr, "kring: %s\n", _("option '--home' needs a directory"));
        free(rest);
        return CLI_USAGE;
      }
      cli_home = argv[++i];
    } else if (strncmp(argv[i], "--home=", 7) == 0) {
      cli_home = argv[i] + 7;
    } else if (strcmp(argv[i], "--json") == 0) {
      cli_json = 1;
    } else if (strcmp(argv[i], "--version") == 0) {
      free(rest);
      return version();
    } else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
      want_help = 1;
    } else {
      rest[nrest++] = argv[i];
    }
  }
  if (!cli_home || !cli_home[0]) {
    const char *h = getenv("HOME");
    snprintf(defhome, sizeof defhome, "%s/.kring", h && h[0] ? h : ".");
    cli_home = defhome;
  }
  if (want_help) {      /* kring --help, kring COMMAND ... --help */
    int rc = nrest ? cli_help_command(rest[0]) : cmd_help(0, NULL);
    free(rest);
    return rc;
  }
  if (nrest == 0) {
    fprintf(stderr, "kring: %s\n", _("missing command (see kring help)"));
    free(rest);
    return CLI_USAGE;
  }
  for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
    if (strcmp(rest[0], commands[i].name) == 0) {
      int rc = commands[i].run(nrest - 1, rest + 1);
      /* SQLite met a damaged page that the command did not pass up (or
       * passed up as some other failure): it fails with that line. */
      if (rc != CLI_USAGE && kr_node_store_error(NULL) == KR_EDAMAGED && cli_store_trouble())
        rc = CLI_FAIL;
      report_peak();
      fflush(stdout);
      if (ferror(stdout) && rc == CLI_OK) {
        fprintf(stderr, "kring: %s\n", _("cannot write output"));
        rc = CLI_FAIL;
      }
      free(rest);
      return rc;
    }
  fprintf(stderr, "kring: ");
  fprintf(stderr, _("unknown command '%s' (see kring help)"), cli_safe(rest[0], -1));
  fputc('\n', stderr);
  free(rest);
  return CLI_USAGE;
}
