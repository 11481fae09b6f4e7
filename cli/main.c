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

#include "cli/cli.h"
#include "crdt/err.h"

#define KRING_VERSION "0.1.0"

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
  const char *help;
} commands[] = {
  {"init", cmd_init, "init --org NAME [--kind " KR_KINDS "]   create this node"},
  {"id", cmd_id, "id                           print this node's id and organisation"},
  {"volunteer", cmd_volunteer, "volunteer add|set|show|list|search ...   the register"},
  {"consent", cmd_consent, "consent grant|withdraw|show ID ...     consent and its proof"},
  {"erase", cmd_erase, "erase ID --reason TEXT       erase a volunteer everywhere (GDPR art. 17)"},
  {"subject-export", cmd_subject_export, "subject-export ID            everything held on one volunteer, as JSON"},
  {"network", cmd_network, "network                      this node's network and its members"},
  {"invite", cmd_invite, "invite [--expires 24h] [--address HOST:PORT]   a one-time invite line"},
  {"join", cmd_join, "join INVITE --org NAME [--kind K] [--offline]   a new node in that network"},
  {"member", cmd_member, "member accept REQUEST | list | remove NODEID --reason TEXT"},
  {"bundle", cmd_bundle, "bundle export --out FILE [--for NODEID|--all] | import FILE"},
  {"serve", cmd_serve, "serve [--listen HOST:PORT] [--interval S]   sync with peers until stopped"},
  {"sync", cmd_sync, "sync [PEER|HOST:PORT]...     sync once with these peers (default: all)"},
  {"peer", cmd_peer, "peer add NAME HOST:PORT | list | remove NAME   the peers to sync with"},
  {"status", cmd_status, "status                       node, network, peers and what they lack"},
  {"import", cmd_import, "import FILE.csv|FILE.xlsx [--dry-run] ...   bring in a volunteer sheet"},
  {"export", cmd_export, "export --format csv|xlsx|json --out FILE ...   a sheet of the volunteers"},
  {"log", cmd_log, "log [--exports]              the changes this node holds; the exports made"},
  {"digest", cmd_digest, "digest                       hash of the replicated state"},
  {"check", cmd_check, "check                        verify the store file (SQLite integrity check)"},
  {"help", cmd_help, "help                         this text"},
};

static int cmd_help(int argc, char **argv)
{
  (void)argc;
  (void)argv;
  printf("kring %s: a shared volunteer register without a central server\n\n"
         "usage: kring [--home DIR] [--json] COMMAND ...\n\n", KRING_VERSION);
  for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
    printf("  kring %s\n", commands[i].help);
  printf("\n--home DIR (or KRING_HOME) picks the node; the default is ~/.kring.\n"
         "--json makes read commands print JSON.\n"
         "Exit status: 0 success, 1 failure (one line on stderr says why), 2 usage error.\n");
  return CLI_OK;
}

int main(int argc, char **argv)
{
  char **rest = calloc((size_t)argc + 1, sizeof *rest);
  static char defhome[4096];
  int nrest = 0;

  if (harden() != 0) {
    fprintf(stderr, "kring: cannot turn off core dumps for this process; refusing to run\n");
    free(rest);
    return CLI_FAIL;
  }
  if (!rest || sodium_init() < 0) {
    fprintf(stderr, "kring: cannot initialise\n");
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
        fprintf(stderr, "kring: option '--home' needs a directory\n");
        free(rest);
        return CLI_USAGE;
      }
      cli_home = argv[++i];
    } else if (strncmp(argv[i], "--home=", 7) == 0) {
      cli_home = argv[i] + 7;
    } else if (strcmp(argv[i], "--json") == 0) {
      cli_json = 1;
    } else if (strcmp(argv[i], "--version") == 0) {
      printf("kring %s\n", KRING_VERSION);
      free(rest);
      return CLI_OK;
    } else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
      free(rest);
      return cmd_help(0, NULL);
    } else {
      rest[nrest++] = argv[i];
    }
  }
  if (!cli_home || !cli_home[0]) {
    const char *h = getenv("HOME");
    snprintf(defhome, sizeof defhome, "%s/.kring", h && h[0] ? h : ".");
    cli_home = defhome;
  }
  if (nrest == 0) {
    fprintf(stderr, "kring: missing command (see kring help)\n");
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
        fprintf(stderr, "kring: cannot write output\n");
        rc = CLI_FAIL;
      }
      free(rest);
      return rc;
    }
  fprintf(stderr, "kring: unknown command '%s' (see kring help)\n", cli_safe(rest[0], -1));
  free(rest);
  return CLI_USAGE;
}
