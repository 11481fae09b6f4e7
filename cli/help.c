/*
 * help: what kring help, kring help COMMAND and kring COMMAND --help print.
 * One entry per command: the synopsis (commands and option names, never
 * translated), a one-line summary, its options and one example. The
 * summary and the option texts are for a person and go through gettext;
 * docs/kring.1 says the same at more length.
 */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"

typedef struct {
  const char *name;
  const char *synopsis;   /* one or more lines, "kring " prepended to each */
  const char *summary;    /* N_() */
  const char *options;    /* N_(): "  --opt ARG   what it does\n" lines, or NULL */
  const char *example;    /* a command line, without "kring " */
} help_entry;

static const help_entry entries[] = {
  {"init", "init --org NAME [--kind " KR_KINDS "]",
   N_("create this node: its key, its store and a new network with this organisation as founder"),
   N_("  --org NAME    the name of this organisation, as members will see it\n"
      "  --kind KIND   foodbank, buurtteam, mzo, centre, care or other\n"),
   "init --org \"Voedselbank Noord\" --kind foodbank"},
  {"id", "id",
   N_("print this node's id and organisation"), NULL, "id"},
  {"volunteer",
   "volunteer add --name NAME [--email E] [--phone P] [--postcode C] [--city C] [--birth-year Y]\n"
   "          [--skill S]... [--language L]... [--availability A]... [--note TEXT]\n"
   "volunteer set VOLUNTEER FIELD=VALUE... [--add FIELD=VALUE]... [--remove FIELD=VALUE]...\n"
   "volunteer show VOLUNTEER\n"
   "volunteer list [--skill S] [--language L] [--city C] [--available A]\n"
   "volunteer search TEXT",
   N_("add, change, show, list and search the volunteers in the register this node may read"),
   N_("  VOLUNTEER       a name, an e-mail address or an id (at least 4 hex digits)\n"
      "  show            the values, the consent, and who may read the volunteer and why\n"
      "  --availability  a part of the day: ma-ochtend ... zo-avond (or mon-am ... sun-ev)\n"
      "  --add, --remove add a value to a list field or remove one from it\n"
      "  --available     list only the volunteers available in that part of the day\n"),
   "volunteer add --name \"Anna de Vries\" --city Utrecht --availability ma-ochtend"},
  {"consent",
   "consent grant VOLUNTEER --purpose P --to ORG|all --method papier|mondeling|digitaal\n"
   "              [--text-version V] [--until YYYY-MM-DD]\n"
   "consent withdraw VOLUNTEER --purpose P --to ORG|all [--method papier|mondeling|digitaal]\n"
   "consent show VOLUNTEER",
   N_("record consent and its withdrawal, and show the proof of consent"),
   N_("  --purpose P       what the consent is for: one of kring purpose list\n"
      "  --to ORG|all      the organisation that may read the volunteer, or all members\n"
      "  --method M        how it was given: papier, mondeling or digitaal\n"
      "  --text-version V  the version of the consent text the volunteer agreed to\n"
      "  --until DATE      the day the consent ends\n"),
   "consent grant \"Anna de Vries\" --purpose contact --to all --method papier --text-version 2024-1"},
  {"purpose",
   "purpose add NAME --description TEXT [--text-version V]\n"
   "purpose list",
   N_("the network's list of consent purposes: a grant must name one of them"),
   N_("  NAME              1-40 characters a-z, 0-9 or '-', such as photos\n"
      "  --description T   one line saying what the consent is for\n"
      "  --text-version V  the version of the consent text that goes with it\n"
      "  add               also changes the description or text version of a purpose\n"),
   "purpose add first-aid --description \"om te weten wie EHBO kan verlenen\" --text-version 2025-1"},
  {"erase", "erase VOLUNTEER --reason TEXT [--yes]",
   N_("erase a volunteer on every node (GDPR art. 17); this cannot be undone"),
   N_("  --reason TEXT  why, for the log (no personal data)\n"
      "  --yes          do not ask; needed when no terminal is attached\n"),
   "erase \"Anna de Vries\" --reason \"request of 2026-03-01\""},
  {"subject-export", "subject-export VOLUNTEER",
   N_("everything this node holds on one volunteer, and who may read it, as JSON (GDPR art. 15 "
      "and 20)"), NULL,
   "subject-export \"Anna de Vries\" > anna.json"},
  {"network", "network",
   N_("this node's network and its members"), NULL, "network"},
  {"invite", "invite [--expires 24h] [--address HOST:PORT]... [--out FILE]",
   N_("make a one-time invite for another organisation"),
   N_("  --expires TIME     how long the invite holds: 30m, 24h, 7d (at most 30d)\n"
      "  --address H:P      where this node serves, so the new node can join online\n"
      "  --out FILE         write the invite into FILE\n"),
   "invite --expires 7d --address 192.168.1.10:7733"},
  {"join", "join INVITE|FILE --org NAME [--kind KIND] [--offline [--out FILE]]",
   N_("join the network of an invite as a new node"),
   N_("  --org NAME    the name of this organisation\n"
      "  --kind KIND   foodbank, buurtteam, mzo, centre, care or other\n"
      "  --offline     write a join request to hand over instead of going online\n"
      "  --out FILE    write that join request into FILE\n"),
   "join invite.txt --org \"Buurtteam Oost\" --kind buurtteam"},
  {"member",
   "member accept REQUEST|FILE\n"
   "member list\n"
   "member remove ORGANISATION --reason TEXT [--yes]",
   N_("admit an organisation that asked to join, list the members, remove one"),
   N_("  --reason TEXT  why the member is removed\n"
      "  --yes          do not ask; needed when no terminal is attached\n"),
   "member accept request.txt"},
  {"bundle",
   "bundle export --out FILE [--for NODEID | --all]\n"
   "bundle import FILE",
   N_("write the changes a member lacks into a bundle file, or read one in (USB stick)"),
   N_("  --out FILE   the bundle file to write\n"
      "  --for NODE   only what that member lacks\n"
      "  --all        every change this node holds\n"),
   "bundle export --out /media/usb/noord.kring --all"},
  {"serve", "serve [--listen HOST:PORT] [--interval SECONDS]",
   N_("accept members' connections and sync with the peers until stopped"),
   N_("  --listen H:P        the address to listen on (default 0.0.0.0:7733)\n"
      "  --interval SECONDS  how often to sync with the peers (1 to 86400)\n"),
   "serve --listen 0.0.0.0:7733 --interval 300"},
  {"sync", "sync [PEER|HOST:PORT]...",
   N_("sync once with these peers (default: all peers)"), NULL, "sync oost"},
  {"peer",
   "peer add NAME HOST:PORT\n"
   "peer list\n"
   "peer remove NAME",
   N_("the address book of peers to sync with"), NULL, "peer add oost 192.168.1.20:7733"},
  {"status", "status",
   N_("this node, its network, its peers, what they lack, and what it may not read"), NULL,
   "status"},
  {"import",
   "import FILE.csv|FILE.xlsx [--dry-run] [--skip-bad] [--sync-sets] [--sheet NAME]\n"
   "       [--separator ';'|','|tab] [--map 'Column=field']...\n"
   "       [--consent PURPOSE --to ORG|all --consent-column COLUMN\n"
   "        [--method paper|verbal|digital] [--text-version V]]",
   N_("bring in a sheet of volunteers (CSV or Excel)"),
   N_("  --dry-run         show what would change, change nothing\n"
      "  --skip-bad        import the good rows and list the bad ones\n"
      "  --sync-sets       make list fields equal to the sheet (remove what is gone)\n"
      "  --sheet NAME      the sheet of the workbook to read\n"
      "  --separator SEP   the column separator of a CSV file\n"
      "  --map COL=FIELD   read column COL as this field\n"
      "  --consent PURPOSE record the consent the sheet holds, with --to and --consent-column\n"),
   "import vrijwilligers.csv --dry-run"},
  {"export",
   "export --format csv|xlsx|json --out FILE [--fields f1,f2,...] [--skill S] [--city C]\n"
   "       [--available A] [--consent PURPOSE] [--separator ';'|','|tab] [--lang nl|en]",
   N_("write a sheet of the volunteers this node may read"),
   N_("  --format F       csv, xlsx or json\n"
      "  --out FILE       the file to write\n"
      "  --fields LIST    the columns, separated by commas\n"
      "  --consent P      only volunteers with consent for purpose P\n"
      "  --lang nl|en     the language of the column headers\n"),
   "export --format xlsx --out rooster.xlsx --available za-ochtend"},
  {"log", "log [--exports | --access]",
   N_("the changes this node holds, the exports made, or the volunteers it stopped reading"),
   N_("  --exports  the exports made from this node: who, when, which fields\n"
      "  --access   the volunteers this node stopped reading, when and why (short id only)\n"),
   "log --access"},
  {"digest", "digest [--readable]",
   N_("a hash of the changes held: nodes holding the same changes print the same"),
   N_("  --readable  a hash of the volunteers this node may read instead: equal on two nodes "
      "with the same rights\n"),
   "digest --readable"},
  {"check", "check",
   N_("verify the store file (SQLite integrity check)"), NULL, "check"},
  {"help", "help [COMMAND]",
   N_("this text, or the help of one command"), NULL, "help consent"},
};

#define NENTRIES (sizeof entries / sizeof entries[0])

static const help_entry *find(const char *name)
{
  for (size_t i = 0; i < NENTRIES; i++)
    if (strcmp(entries[i].name, name) == 0) return &entries[i];
  return NULL;
}

/* Each line of s with prefix before it. */
static void lines(const char *prefix, const char *s)
{
  while (*s) {
    const char *nl = strchr(s, '\n');
    size_t len = nl ? (size_t)(nl - s) : strlen(s);
    /* a continuation line (it starts with spaces) goes under the command */
    printf("%*s%.*s\n", (int)strlen(prefix), *s == ' ' ? "" : prefix, (int)len, s);
    s += len + (nl ? 1 : 0);
  }
}

int cli_help_command(const char *name)
{
  const help_entry *e = find(name);

  if (!e) return cli_usage("kring help [COMMAND]", _("unknown command '%s' (see kring help)"), name);
  printf("%s\n", _("Usage:"));
  lines("  kring ", e->synopsis);
  printf("\n%s\n", _(e->summary));
  if (e->options) printf("\n%s\n%s", _("Options:"), _(e->options));
  printf("\n%s\n", _("Example:"));
  lines("  kring ", e->example);
  return CLI_OK;
}

int cli_help_all(const char *version)
{
  printf(_("kring %s: a shared volunteer register without a central server\n"), version);
  printf("\n%s\n  kring [--home DIR] [--json] COMMAND ...\n\n%s\n", _("Usage:"), _("Commands:"));
  for (size_t i = 0; i < NENTRIES; i++)
    printf("  %-15s %s\n", entries[i].name, _(entries[i].summary));
  printf("\n%s\n", _("--home DIR (or KRING_HOME) picks the node; the default is ~/.kring.\n"
                     "--json makes read commands print JSON.\n"
                     "kring help COMMAND or kring COMMAND --help shows one command in full.\n"
                     "Exit status: 0 success, 1 failure (one line on standard error says why), "
                     "2 usage error, 3 the volunteer is sealed: this node may not read it."));
  return CLI_OK;
}
