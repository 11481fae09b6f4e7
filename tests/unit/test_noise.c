/*
 * test_noise: the Noise_XX_25519_ChaChaPoly_BLAKE2b handshake reproduces
 * the public test vectors (tests/vectors/, from cacophony and noise-c) byte
 * for byte: every handshake message, the same handshake hash on both
 * sides, and the transport messages after the split. Then what must fail:
 * a flipped bit anywhere, messages out of turn, a low-order key, rekey.
 * And the keys' memory: locked into RAM while in use, zero after a wipe.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include <jansson.h>
#include <sodium.h>

#include "check.h"
#include "crdt/err.h"
#include "sync/noise.h"

static size_t unhex(const char *s, uint8_t *out, size_t cap)
{
  size_t len;
  REQUIRE(sodium_hex2bin(out, cap, s, strlen(s), NULL, &len, NULL) == 0);
  return len;
}

static void run_vector(json_t *v)
{
  uint8_t pro[256], is[32], ie[32], rs[32], re[32], buf[KR_NOISE_MSG_MAX], out[KR_NOISE_MSG_MAX];
  uint8_t want[KR_NOISE_MSG_MAX], pay[KR_NOISE_MSG_MAX];
  kr_noise_hs ini, rsp;
  kr_noise_cipher ini_tx, ini_rx, rsp_tx, rsp_rx;
  size_t plen, n, wlen, got;
  json_t *msgs = json_object_get(v, "messages"), *m;
  size_t i;

  plen = unhex(json_string_value(json_object_get(v, "init_prologue")), pro, sizeof pro);
  unhex(json_string_value(json_object_get(v, "init_static")), is, 32);
  unhex(json_string_value(json_object_get(v, "init_ephemeral")), ie, 32);
  unhex(json_string_value(json_object_get(v, "resp_static")), rs, 32);
  unhex(json_string_value(json_object_get(v, "resp_ephemeral")), re, 32);
  kr_noise_init(&ini, 1, pro, plen, is, ie);
  kr_noise_init(&rsp, 0, pro, plen, rs, re);

  json_array_foreach(msgs, i, m) {
    int from_ini = i % 2 == 0;   /* XX alternates, the initiator first */
    size_t paylen = unhex(json_string_value(json_object_get(m, "payload")), pay, sizeof pay);
    wlen = unhex(json_string_value(json_object_get(m, "ciphertext")), want, sizeof want);
    if (i < 3) {
      kr_noise_hs *w = from_ini ? &ini : &rsp, *r = from_ini ? &rsp : &ini;
      CHECK_EQ(kr_noise_write(w, pay, paylen, buf, sizeof buf, &n), 0);
      CHECK_EQ(n, wlen);
      CHECK(n == wlen && memcmp(buf, want, n) == 0);
      CHECK_EQ(kr_noise_read(r, buf, n, out, sizeof out, &got), 0);
      CHECK(got == paylen && memcmp(out, pay, got) == 0);
      if (i == 2) {
        CHECK(memcmp(kr_noise_hash(&ini), kr_noise_hash(&rsp), KR_NOISE_HASHLEN) == 0);
        {
          uint8_t pk[32];
          crypto_scalarmult_base(pk, is);
          CHECK(memcmp(kr_noise_remote_static(&rsp), pk, 32) == 0);
          crypto_scalarmult_base(pk, rs);
          CHECK(memcmp(kr_noise_remote_static(&ini), pk, 32) == 0);
        }
        CHECK_EQ(kr_noise_split(&ini, &ini_tx, &ini_rx), 0);
        CHECK_EQ(kr_noise_split(&rsp, &rsp_tx, &rsp_rx), 0);
      }
    } else {
      kr_noise_cipher *tx = from_ini ? &ini_tx : &rsp_tx, *rx = from_ini ? &rsp_rx : &ini_rx;
      CHECK_EQ(kr_noise_encrypt(tx, pay, paylen, buf), 0);
      CHECK_EQ(paylen + KR_NOISE_TAGLEN, wlen);
      CHECK(memcmp(buf, want, wlen) == 0);
      CHECK_EQ(kr_noise_decrypt(rx, buf, wlen, out), 0);
      CHECK(memcmp(out, pay, paylen) == 0);
    }
  }
  CHECK(json_array_size(msgs) >= 6);
}

static void handshake(kr_noise_hs *a, kr_noise_hs *b, const char *pro)
{
  uint8_t s1[32], s2[32], buf[256], pay[256];
  size_t n, k;
  randombytes_buf(s1, 32);
  randombytes_buf(s2, 32);
  kr_noise_init(a, 1, (const uint8_t *)pro, strlen(pro), s1, NULL);
  kr_noise_init(b, 0, (const uint8_t *)"kring", 5, s2, NULL);
  REQUIRE(kr_noise_write(a, NULL, 0, buf, sizeof buf, &n) == 0);
  REQUIRE(kr_noise_read(b, buf, n, pay, sizeof pay, &k) == 0);
  REQUIRE(kr_noise_write(b, NULL, 0, buf, sizeof buf, &n) == 0);
  /* a prologue that differs shows at the first MAC */
  if (strcmp(pro, "kring") != 0) {
    CHECK_EQ(kr_noise_read(a, buf, n, pay, sizeof pay, &k), KR_EBADSIG);
    CHECK_EQ(a->step, KR_NOISE_FAILED);
    CHECK_EQ(kr_noise_write(a, NULL, 0, buf, sizeof buf, &n), KR_EINVAL);
    return;
  }
  REQUIRE(kr_noise_read(a, buf, n, pay, sizeof pay, &k) == 0);
  REQUIRE(kr_noise_write(a, (const uint8_t *)"hi", 2, buf, sizeof buf, &n) == 0);
  REQUIRE(kr_noise_read(b, buf, n, pay, sizeof pay, &k) == 0);
}

static void failures(void)
{
  kr_noise_hs a, b;
  kr_noise_cipher at, ar, bt, br;
  uint8_t s[32], buf[512], pay[512], ct[64], pt[64];
  size_t n, k;

  handshake(&a, &b, "other");
  handshake(&a, &b, "kring");
  CHECK_EQ(kr_noise_split(&a, &at, &ar), 0);
  CHECK_EQ(kr_noise_split(&b, &bt, &br), 0);

  /* every bit of a transport message matters, and the nonce does not move on failure */
  CHECK_EQ(kr_noise_encrypt(&at, (const uint8_t *)"volunteer", 9, ct), 0);
  for (size_t i = 0; i < 9 + KR_NOISE_TAGLEN; i++) {
    ct[i] ^= 0x01;
    CHECK_EQ(kr_noise_decrypt(&br, ct, 9 + KR_NOISE_TAGLEN, pt), KR_EBADSIG);
    ct[i] ^= 0x01;
  }
  CHECK_EQ(kr_noise_decrypt(&br, ct, 9 + KR_NOISE_TAGLEN, pt), 0);
  CHECK(memcmp(pt, "volunteer", 9) == 0);
  /* a replayed message fails: the nonce moved on */
  CHECK_EQ(kr_noise_decrypt(&br, ct, 9 + KR_NOISE_TAGLEN, pt), KR_EBADSIG);

  /* rekey on both sides keeps them in step; on one side only, not */
  kr_noise_rekey(&bt);
  kr_noise_rekey(&ar);
  CHECK_EQ(kr_noise_encrypt(&bt, (const uint8_t *)"x", 1, ct), 0);
  CHECK_EQ(kr_noise_decrypt(&ar, ct, 1 + KR_NOISE_TAGLEN, pt), 0);
  kr_noise_rekey(&bt);
  CHECK_EQ(kr_noise_encrypt(&bt, (const uint8_t *)"x", 1, ct), 0);
  CHECK_EQ(kr_noise_decrypt(&ar, ct, 1 + KR_NOISE_TAGLEN, pt), KR_EBADSIG);

  /* the reserved nonce is never used */
  at.n = UINT64_MAX;
  CHECK_EQ(kr_noise_encrypt(&at, (const uint8_t *)"x", 1, ct), KR_EINVAL);

  /* out of turn, short, flipped handshake messages */
  randombytes_buf(s, 32);
  kr_noise_init(&a, 1, NULL, 0, s, NULL);
  kr_noise_init(&b, 0, NULL, 0, s, NULL);
  CHECK_EQ(kr_noise_write(&b, NULL, 0, buf, sizeof buf, &n), KR_EINVAL);
  CHECK_EQ(kr_noise_read(&a, buf, 32, pay, sizeof pay, &k), KR_EINVAL);
  CHECK_EQ(kr_noise_read(&b, buf, 31, pay, sizeof pay, &k), KR_EMALFORMED);
  kr_noise_init(&b, 0, NULL, 0, s, NULL);
  CHECK_EQ(kr_noise_write(&a, NULL, 0, buf, sizeof buf, &n), 0);
  CHECK_EQ(kr_noise_read(&b, buf, n, pay, sizeof pay, &k), 0);
  CHECK_EQ(kr_noise_write(&b, NULL, 0, buf, sizeof buf, &n), 0);
  for (size_t i = 32; i < n; i += 7) {
    kr_noise_hs a2 = a;
    buf[i] ^= 0x80;
    CHECK(kr_noise_read(&a2, buf, n, pay, sizeof pay, &k) != 0);
    buf[i] ^= 0x80;
  }
  /* a low-order ephemeral key (all zeros) is refused at the first DH */
  {
    kr_noise_hs a2 = a;
    memset(buf, 0, 32);
    CHECK(kr_noise_read(&a2, buf, n, pay, sizeof pay, &k) != 0);
  }
  kr_noise_wipe(&a);
  kr_noise_wipe(&b);
}

/* AddressSanitizer turns mlock into a no-op (its interceptor). */
#if defined(__SANITIZE_ADDRESS__)
#define MLOCK_WORKS 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define MLOCK_WORKS 0
#endif
#endif
#ifndef MLOCK_WORKS
#define MLOCK_WORKS 1
#endif

/* kB of this process locked into RAM (VmLck in /proc/self/status), or -1. */
static long vm_locked(void)
{
  char line[256];
  long kb = -1;
  FILE *f = fopen("/proc/self/status", "r");
  if (!f) return -1;
  while (fgets(line, sizeof line, f))
    if (strncmp(line, "VmLck:", 6) == 0) kb = strtol(line + 6, NULL, 10);
  fclose(f);
  return kb;
}

static int all_zero(const void *p, size_t n)
{
  const uint8_t *b = p;
  for (size_t i = 0; i < n; i++)
    if (b[i]) return 0;
  return 1;
}

/* The handshake state and the transport ciphers hold keys: locked into
 * RAM (never swapped) from init and split, zero and unlocked after a wipe.
 * Each object on a page of its own, so that VmLck counts it alone. */
static void memory(void)
{
  long page = sysconf(_SC_PAGESIZE), before = vm_locked();
  kr_noise_hs *a = aligned_alloc((size_t)page, (size_t)page);
  kr_noise_hs *b = aligned_alloc((size_t)page, (size_t)page);
  kr_noise_cipher *c[4];
  struct rlimit lim;
  int can_lock = MLOCK_WORKS && (geteuid() == 0 || (getrlimit(RLIMIT_MEMLOCK, &lim) == 0 &&
                                                     lim.rlim_cur >= (rlim_t)(8 * page)));

  REQUIRE(a && b && sizeof *a <= (size_t)page);
  for (int i = 0; i < 4; i++) REQUIRE((c[i] = aligned_alloc((size_t)page, (size_t)page)));
  handshake(a, b, "kring");
  if (before < 0 || !can_lock)
    fprintf(stderr, "test_noise: cannot see or lock memory here (RLIMIT_MEMLOCK, or ASan's "
                    "mlock); skipping the mlock checks\n");
  else
    CHECK_EQ(vm_locked() - before, 2 * page / 1024);
  CHECK_EQ(kr_noise_split(a, c[0], c[1]), 0);
  CHECK_EQ(kr_noise_split(b, c[2], c[3]), 0);
  if (before >= 0 && can_lock) CHECK_EQ(vm_locked() - before, 6 * page / 1024);
  kr_noise_wipe(a);
  kr_noise_wipe(b);
  CHECK(all_zero(a, sizeof *a) && all_zero(b, sizeof *b));
  for (int i = 0; i < 4; i++) {
    kr_noise_cipher_wipe(c[i]);
    CHECK(all_zero(c[i], sizeof *c[i]));
  }
  if (before >= 0 && can_lock) CHECK_EQ(vm_locked(), before);
  free(a);
  free(b);
  for (int i = 0; i < 4; i++) free(c[i]);
}

int main(void)
{
  json_error_t err;
  json_t *root = json_load_file(KR_VECTORS, 0, &err), *v;
  size_t i, count = 0;

  REQUIRE(sodium_init() >= 0);
  if (!root) {
    fprintf(stderr, "cannot read %s: %s\n", KR_VECTORS, err.text);
    return 1;
  }
  json_array_foreach(json_object_get(root, "vectors"), i, v) {
    if (strcmp(json_string_value(json_object_get(v, "name")), KR_NOISE_PROTOCOL) != 0) continue;
    run_vector(v);
    count++;
  }
  CHECK(count >= 2);
  json_decref(root);
  failures();
  memory();
  return check_done("test_noise");
}
