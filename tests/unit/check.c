/* check: test helpers (see check.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"

int check_failures;
static char dir[4096];

const char *check_tmpdir(void)
{
  if (!dir[0]) {
    const char *t = getenv("TMPDIR");
    snprintf(dir, sizeof dir, "%s/kring-test-XXXXXX", t && t[0] ? t : "/tmp");
    REQUIRE(mkdtemp(dir));
  }
  return dir;
}

const char *check_path(const char *name)
{
  static char ring[8][4096];
  static int k;
  char *p = ring[k++ % 8];
  snprintf(p, 4096, "%s/%s", check_tmpdir(), name);
  return p;
}

int check_done(const char *name)
{
  if (dir[0] && !getenv("KRING_KEEP_TMP")) {
    char cmd[4200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", dir);
  }
  if (check_failures) {
    fprintf(stderr, "%s: %d check(s) failed\n", name, check_failures);
    return 1;
  }
  printf("%s: ok\n", name);
  return 0;
}

uint64_t check_clock(void *ctx)
{
  static uint64_t t = UINT64_C(1767225600000);
  uint64_t *c = ctx;
  if (c) return (*c)++;
  return t++;
}
