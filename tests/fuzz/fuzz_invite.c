/*
 * fuzz_invite: libFuzzer target for the invite line decoder. An invite
 * that decodes has a valid inviter signature over the key its secret and
 * addresses give (checked by kr_invite_parse), at most KR_INVITE_ADDRS
 * addresses of 1-KR_ADDR_MAX characters and an expiry on a whole minute,
 * and must say so again when parsed a second time. The same bytes go through
 * kr_invite_extract (the line as mail delivers it): what it returns is
 * no longer than its input and starts with the prefix; an invite that
 * decodes whole is found again by it, unchanged.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "crdt/err.h"
#include "sync/invite.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  static kr_invite inv, again;
  static char line[KR_INVITE_TEXT_MAX + 1];
  char *text;

  if (size > 2 * KR_INVITE_TEXT_MAX) return 0;
  if (!(text = malloc(size + 1))) abort();
  memcpy(text, data, size);
  text[size] = 0;
  if (kr_invite_parse(text, &inv) == 0) {
    if (inv.naddr > KR_INVITE_ADDRS || inv.expires_ms % 60000) abort();
    for (size_t i = 0; i < inv.naddr; i++)
      if (!inv.addr[i][0] || strlen(inv.addr[i]) > KR_ADDR_MAX) abort();
    if (kr_invite_parse(text, &again) != 0 || memcmp(&inv, &again, sizeof inv) != 0) abort();
    if (kr_invite_extract(text, KR_INVITE_PREFIX, line, sizeof line) != 0) abort();
    if (kr_invite_parse(line, &again) != 0 || memcmp(&inv, &again, sizeof inv) != 0) abort();
  }
  if (kr_invite_extract(text, KR_INVITE_PREFIX, line, sizeof line) == 0 &&
      (strlen(line) > size || strncmp(line, KR_INVITE_PREFIX, strlen(KR_INVITE_PREFIX)) != 0))
    abort();
  free(text);
  return 0;
}
