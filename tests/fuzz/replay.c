/*
 * replay: run a fuzz target over every file in the directories given, as
 * the normal test run does with the committed corpus and crashers. A crash
 * or abort fails the test.
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define REPLAY_MAX_INPUT (4u << 20)

int main(int argc, char **argv)
{
  size_t files = 0;
  uint8_t *buf = malloc(REPLAY_MAX_INPUT);

  if (!buf) return 1;
  for (int i = 1; i < argc; i++) {
    DIR *d = opendir(argv[i]);
    struct dirent *e;
    if (!d) {
      fprintf(stderr, "replay: cannot open %s\n", argv[i]);
      return 1;
    }
    while ((e = readdir(d))) {
      char path[4096];
      FILE *f;
      size_t n;
      if (e->d_name[0] == '.') continue;
      snprintf(path, sizeof path, "%s/%s", argv[i], e->d_name);
      if (!(f = fopen(path, "rb"))) continue;
      n = fread(buf, 1, REPLAY_MAX_INPUT, f);
      fclose(f);
      LLVMFuzzerTestOneInput(buf, n);
      files++;
    }
    closedir(d);
  }
  free(buf);
  printf("replay: %zu inputs, no crash\n", files);
  return files ? 0 : 1;
}
