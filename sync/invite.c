/* invite: invites and join requests, format 2 (see invite.h; the bytes
 * are in docs/protocol.md, "Invite" and "Join request"). */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "crdt/err.h"
#include "node/validate.h"
#include "sync/invite.h"

static const char invite_domain[] = "kring-invite-v2";   /* the inviter's signature */
static const char key_domain[] = "kring-invite-key-v2";  /* the invite key, from the secret */
static const char join_domain[] = "kring-join-v2";       /* the new node's signature */

/* The kinds by their number in a join request (append only). */
static const char *const kinds[] = {"foodbank", "buurtteam", "mzo", "centre", "care", "other"};
#define NKINDS (sizeof kinds / sizeof kinds[0])

#define SECRET_LEN 16
#define SIG_LEN    64
#define B64        sodium_base64_VARIANT_URLSAFE_NO_PADDING

/* Offsets in an invite: flags, secret, expiry, network, founder, then the
 * inviter (when flagged), the addresses and the signature. */
#define INV_SECRET  1
#define INV_EXPIRES (INV_SECRET + SECRET_LEN)
#define INV_NETWORK (INV_EXPIRES + 4)
#define INV_FOUNDER (INV_NETWORK + KR_NETWORK_LEN)
#define INV_INVITER (INV_FOUNDER + KR_NODE_LEN)          /* 69 */
#define INV_HAS_INVITER 0x01                            /* flags: the inviter is not the founder */
#define INV_NADDR_SHIFT 1                               /* flags: bits 1-4, the addresses */
#define INV_FLAGS_FREE  0xe0                            /* flags: bits 5-7, zero */
#define ADDR_V4   0                                     /* an address's first byte */
#define ADDR_V6   1
#define ADDR_TEXT 3                                     /* 3-255: the text's length */

/* Offsets in a join request: kind, node, org (length, bytes); after the
 * org: the tags, expiry, invite key and three signatures. */
#define JOIN_NODE    1
#define JOIN_ORGLEN  (JOIN_NODE + KR_NODE_LEN)          /* 33 */
#define JOIN_ORG     (JOIN_ORGLEN + 1)
#define JOIN_TAIL    (2 * KR_JOIN_TAG_LEN + 4 + KR_NODE_LEN + 3 * SIG_LEN)   /* 236 */

/* The message the inviter signs: domain || network || founder || inviter
 * || invite key || expiry (minutes, 4 bytes big-endian). */
#define SIGNED_LEN (sizeof invite_domain - 1 + KR_NETWORK_LEN + 3 * KR_NODE_LEN + 4)

static void put32(uint8_t *p, uint32_t v)
{
  p[0] = (uint8_t)(v >> 24);
  p[1] = (uint8_t)(v >> 16);
  p[2] = (uint8_t)(v >> 8);
  p[3] = (uint8_t)v;
}

static uint32_t get32(const uint8_t *p)
{
  return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void signed_msg(uint8_t m[SIGNED_LEN], const uint8_t network[KR_NETWORK_LEN],
                       const uint8_t founder[KR_NODE_LEN], const uint8_t inviter[KR_NODE_LEN],
                       const uint8_t invite_pk[KR_NODE_LEN], const uint8_t expires[4])
{
  size_t at = sizeof invite_domain - 1;
  memcpy(m, invite_domain, at);
  memcpy(m + at, network, KR_NETWORK_LEN);
  at += KR_NETWORK_LEN;
  memcpy(m + at, founder, KR_NODE_LEN);
  at += KR_NODE_LEN;
  memcpy(m + at, inviter, KR_NODE_LEN);
  at += KR_NODE_LEN;
  memcpy(m + at, invite_pk, KR_NODE_LEN);
  at += KR_NODE_LEN;
  memcpy(m + at, expires, 4);
}

/* The invite's key pair: its seed is BLAKE2b-256 keyed with the secret
 * over the domain and the addresses' bytes, so that a changed address
 * changes the key the inviter signed. */
static void invite_key(const uint8_t secret[SECRET_LEN], const uint8_t *addrs, size_t alen,
                       uint8_t seed[32], uint8_t pk[32])
{
  crypto_generichash_state st;
  uint8_t sk[64];
  crypto_generichash_init(&st, secret, SECRET_LEN, 32);
  crypto_generichash_update(&st, (const uint8_t *)key_domain, sizeof key_domain - 1);
  crypto_generichash_update(&st, addrs, alen);
  crypto_generichash_final(&st, seed, 32);
  crypto_sign_seed_keypair(pk, sk, seed);
  sodium_memzero(sk, sizeof sk);
  sodium_memzero(&st, sizeof st);
}

/* ---- text ------------------------------------------------------------------ */

/* prefix + base64url of len bytes into out (cap bytes). */
static int to_text(const char *prefix, const uint8_t *bin, size_t len, char *out, size_t cap)
{
  size_t pl = strlen(prefix), need = pl + sodium_base64_ENCODED_LEN(len, B64);
  if (need > cap || need > KR_INVITE_TEXT_MAX + 1) return KR_ETOOBIG;
  memcpy(out, prefix, pl);
  sodium_bin2base64(out + pl, cap - pl, bin, len, B64);
  return 0;
}

/* The stem of prefix followed by a format number other than its own. */
static int other_format(const char *at, const char *prefix)
{
  size_t sl = strlen(prefix) - 2;                 /* "kring-invite-" of "kring-invite-2." */
  if (strncmp(at, prefix, sl) != 0 || at[sl] < '0' || at[sl] > '9') return 0;
  return strncmp(at, prefix, sl + 2) != 0;
}

/* A character of base64url (libsodium 1.0.18 also takes any byte from
 * 0x80 up as '_', so it is not asked). */
static int b64url_char(int c)
{
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '_';
}

/* The bytes behind "prefix<base64url>", blanks around it ignored. */
static int from_text(const char *text, const char *prefix, uint8_t raw[KR_INVITE_TEXT_MAX],
                     size_t *len)
{
  size_t pl = strlen(prefix), tl;
  const char *end;

  while (*text == ' ' || *text == '\t' || *text == '\n' || *text == '\r') text++;
  tl = strnlen(text, KR_INVITE_TEXT_MAX + 1);
  if (tl > KR_INVITE_TEXT_MAX) return KR_ETOOBIG;
  while (tl && (text[tl - 1] == ' ' || text[tl - 1] == '\t' || text[tl - 1] == '\n' ||
                text[tl - 1] == '\r'))
    tl--;
  if (tl < pl || memcmp(text, prefix, pl) != 0)
    return other_format(text, prefix) ? KR_EUNKNOWN : KR_EMALFORMED;
  for (size_t i = pl; i < tl; i++)
    if (!b64url_char((unsigned char)text[i])) return KR_EMALFORMED;
  if (sodium_base642bin(raw, KR_INVITE_TEXT_MAX, text + pl, tl - pl, NULL, len, &end, B64) != 0 ||
      end != text + tl)
    return KR_EMALFORMED;
  return 0;
}

/* ---- addresses ----------------------------------------------------------- */

/* The text of a binary address (v6: 16 bytes, else 4), port appended. */
static void addr_text(int v6, const uint8_t *ip, unsigned port, char out[KR_ADDR_MAX + 1])
{
  char h[INET6_ADDRSTRLEN];
  if (!inet_ntop(v6 ? AF_INET6 : AF_INET, ip, h, sizeof h)) h[0] = 0;
  snprintf(out, KR_ADDR_MAX + 1, v6 ? "[%s]:%u" : "%s:%u", h, port);
}

/*
 * One address as an invite carries it: 00 + IPv4 + port or 01 + IPv6 +
 * port when the text is exactly how that address prints, else the text's
 * length (3-255) and the text. Bytes written to out (at least 256), 0
 * when the address cannot go in an invite.
 */
static size_t addr_put(const char *a, uint8_t *out)
{
  size_t l = strlen(a);
  const char *colon = strrchr(a, ':');
  char host[INET6_ADDRSTRLEN + 2], again[KR_ADDR_MAX + 1];
  uint8_t ip[16];

  if (l < ADDR_TEXT || l > KR_ADDR_MAX || kr_text_single_ok(a, l, NULL)) return 0;
  if (colon && (size_t)(colon - a) < sizeof host && colon[1] >= '0' && colon[1] <= '9' &&
      strlen(colon + 1) <= 5) {
    unsigned long port = strtoul(colon + 1, NULL, 10);
    int v6 = a[0] == '[' && colon > a + 1 && colon[-1] == ']';
    size_t hl = v6 ? (size_t)(colon - a) - 2 : (size_t)(colon - a);
    memcpy(host, a + v6, hl);
    host[hl] = 0;
    if (port <= 65535 && inet_pton(v6 ? AF_INET6 : AF_INET, host, ip) == 1) {
      addr_text(v6, ip, (unsigned)port, again);
      if (strcmp(again, a) == 0) {
        size_t il = v6 ? 16 : 4;
        out[0] = v6 ? ADDR_V6 : ADDR_V4;
        memcpy(out + 1, ip, il);
        out[1 + il] = (uint8_t)(port >> 8);
        out[2 + il] = (uint8_t)port;
        return 3 + il;
      }
    }
  }
  out[0] = (uint8_t)l;
  memcpy(out + 1, a, l);
  return 1 + l;
}

/* The length of the address at b (avail bytes): 0 when the bytes end
 * first, KR_EMALFORMED when it is none. */
static long addr_len(const uint8_t *b, size_t avail)
{
  if (avail < 1) return 0;
  switch (b[0]) {
  case ADDR_V4: return 1 + 4 + 2;
  case ADDR_V6: return 1 + 16 + 2;
  case 2: return KR_EMALFORMED;
  default: return 1 + (long)b[0];
  }
}

/* The address at b (its addr_len bytes, all there) as text. */
static int addr_get(const uint8_t *b, char out[KR_ADDR_MAX + 1])
{
  if (b[0] == ADDR_V4 || b[0] == ADDR_V6) {
    size_t il = b[0] == ADDR_V6 ? 16 : 4;
    addr_text(b[0] == ADDR_V6, b + 1, (unsigned)b[1 + il] << 8 | b[2 + il], out);
    return 0;
  }
  if (kr_text_single_ok((const char *)b + 1, b[0], NULL)) return KR_EMALFORMED;
  memcpy(out, b + 1, b[0]);
  out[b[0]] = 0;
  return 0;
}

/* ---- lengths ------------------------------------------------------------- */

/*
 * The length of the invite (join 0) or join request (join 1) whose first
 * have bytes are at b, as its own bytes tell it: 0 when more bytes are
 * needed to tell, KR_EMALFORMED when they cannot begin one.
 */
static long line_len(int join, const uint8_t *b, size_t have)
{
  size_t at, naddr;

  if (have < 1) return 0;
  if (join) {
    if (b[0] >= NKINDS) return KR_EMALFORMED;
    if (have <= JOIN_ORGLEN) return 0;
    if (b[JOIN_ORGLEN] == 0 || b[JOIN_ORGLEN] > KR_ORG_NAME_MAX) return KR_EMALFORMED;
    return JOIN_ORG + b[JOIN_ORGLEN] + JOIN_TAIL;
  }
  naddr = (size_t)(b[0] >> INV_NADDR_SHIFT) & 0x0f;
  if ((b[0] & INV_FLAGS_FREE) || naddr > KR_INVITE_ADDRS) return KR_EMALFORMED;
  at = INV_INVITER + (b[0] & INV_HAS_INVITER ? KR_NODE_LEN : 0);
  for (size_t i = 0; i < naddr; i++) {
    long l = at < have ? addr_len(b + at, have - at) : 0;
    if (l <= 0) return l;
    at += (size_t)l;
  }
  return (long)(at + SIG_LEN);
}

/* ---- a line that went through e-mail ---------------------------------------- */

int kr_invite_extract(const char *text, const char *prefix, char *out, size_t cap)
{
  const char *p = strstr(text, prefix);
  size_t pl = strlen(prefix), k = 0, len = 0, need;
  int join = strcmp(prefix, KR_JOIN_PREFIX) == 0;
  char *chars;
  uint8_t *raw;
  long total;
  int rc = KR_ETRUNCATED;

  if (!p) {
    /* an invite of another format: the stem with another number */
    for (const char *s = text; (s = strstr(s, "kring-")); s++)
      if (other_format(s, prefix)) return KR_EUNKNOWN;
    return KR_ENOTFOUND;
  }
  if (!(chars = malloc(KR_INVITE_TEXT_MAX + 1)) || !(raw = malloc(KR_INVITE_TEXT_MAX))) {
    free(chars);
    return KR_ENOMEM;
  }
  /* the base64url characters after the prefix: blanks, line breaks and the
   * '>' a mail program puts before a quoted line do not count */
  for (p += pl; *p && k < KR_INVITE_TEXT_MAX; p++) {
    if (b64url_char((unsigned char)*p)) chars[k++] = *p;
    else if (*p == '\n') {
      while (p[1] == ' ' || p[1] == '\t' || p[1] == '>' || p[1] == '\r') p++;
    } else if (*p != ' ' && *p != '\t' && *p != '\r') break;
  }
  /* decode whole groups of four (a line's lengths all lie well before
   * its last 64 bytes, a signature, so a last partial group holds none) */
  if (sodium_base642bin(raw, KR_INVITE_TEXT_MAX, chars, k - k % 4, NULL, &len, NULL, B64) != 0) {
    rc = KR_EMALFORMED;
    goto out;
  }
  if ((total = line_len(join, raw, len)) < 0) { rc = KR_EMALFORMED; goto out; }
  if (total == 0) goto out;
  need = ((size_t)total * 4 + 2) / 3;             /* base64 without padding */
  if (pl + need + 1 > cap || pl + need > KR_INVITE_TEXT_MAX) { rc = KR_ETOOBIG; goto out; }
  if (need > k) goto out;                         /* the text ends before the line */
  memcpy(out, prefix, pl);
  memcpy(out + pl, chars, need);
  out[pl + need] = 0;
  rc = 0;
out:
  sodium_memzero(chars, KR_INVITE_TEXT_MAX + 1);   /* an invite's secret */
  sodium_memzero(raw, KR_INVITE_TEXT_MAX);
  free(chars);
  free(raw);
  return rc;
}

/* ---- invite ------------------------------------------------------------------ */

int kr_invite_make(const uint8_t inviter_sk[static 64], const uint8_t network[static KR_NETWORK_LEN],
                   const uint8_t founder[static KR_NODE_LEN], uint64_t expires_ms,
                   const char *const *addrs, size_t naddr, char *out, size_t cap)
{
  uint8_t raw[INV_INVITER + KR_NODE_LEN + KR_INVITE_ADDRS * (1 + KR_ADDR_MAX) + SIG_LEN];
  uint8_t seed[32], ipk[32], msg[SIGNED_LEN];
  const uint8_t *inviter = inviter_sk + 32;
  uint64_t minutes = expires_ms / 60000 + (expires_ms % 60000 != 0);
  size_t at = INV_INVITER, a0;
  int rc = 0;

  if (naddr > KR_INVITE_ADDRS) return KR_ETOOBIG;
  if (minutes > UINT32_MAX) return KR_EINVAL;
  raw[0] = (uint8_t)(naddr << INV_NADDR_SHIFT);
  randombytes_buf(raw + INV_SECRET, SECRET_LEN);
  put32(raw + INV_EXPIRES, (uint32_t)minutes);
  memcpy(raw + INV_NETWORK, network, KR_NETWORK_LEN);
  memcpy(raw + INV_FOUNDER, founder, KR_NODE_LEN);
  if (memcmp(inviter, founder, KR_NODE_LEN) != 0) {
    raw[0] |= INV_HAS_INVITER;
    memcpy(raw + at, inviter, KR_NODE_LEN);
    at += KR_NODE_LEN;
  }
  a0 = at;
  for (size_t i = 0; i < naddr; i++) {
    size_t l = addr_put(addrs[i], raw + at);
    if (!l) { rc = KR_EINVAL; goto out; }
    at += l;
  }
  invite_key(raw + INV_SECRET, raw + a0, at - a0, seed, ipk);
  signed_msg(msg, network, founder, inviter, ipk, raw + INV_EXPIRES);
  crypto_sign_detached(raw + at, NULL, msg, sizeof msg, inviter_sk);
  at += SIG_LEN;
  rc = to_text(KR_INVITE_PREFIX, raw, at, out, cap);
out:
  sodium_memzero(raw, sizeof raw);
  sodium_memzero(seed, sizeof seed);
  return rc;
}

int kr_invite_parse(const char *text, kr_invite *out)
{
  uint8_t raw[KR_INVITE_TEXT_MAX], msg[SIGNED_LEN];
  size_t len, at = INV_INVITER, a0;
  long total;
  int rc;

  memset(out, 0, sizeof *out);
  if ((rc = from_text(text, KR_INVITE_PREFIX, raw, &len))) goto bad;
  if ((total = line_len(0, raw, len)) <= 0 || (size_t)total > len) {
    rc = total < 0 ? KR_EMALFORMED : KR_ETRUNCATED;
    goto bad;
  }
  if ((size_t)total < len) { rc = KR_EMALFORMED; goto bad; }
  out->expires_ms = (uint64_t)get32(raw + INV_EXPIRES) * 60000;
  memcpy(out->network, raw + INV_NETWORK, KR_NETWORK_LEN);
  memcpy(out->founder, raw + INV_FOUNDER, KR_NODE_LEN);
  memcpy(out->inviter, raw + INV_FOUNDER, KR_NODE_LEN);
  if (raw[0] & INV_HAS_INVITER) {
    memcpy(out->inviter, raw + at, KR_NODE_LEN);
    at += KR_NODE_LEN;
    /* the founder's invite says so by leaving the inviter out */
    if (memcmp(out->inviter, out->founder, KR_NODE_LEN) == 0) { rc = KR_EMALFORMED; goto bad; }
  }
  a0 = at;
  out->naddr = (size_t)(raw[0] >> INV_NADDR_SHIFT);
  for (size_t i = 0; i < out->naddr; i++) {
    if ((rc = addr_get(raw + at, out->addr[i]))) goto bad;
    at += (size_t)addr_len(raw + at, len - at);
  }
  memcpy(out->inviter_sig, raw + at, SIG_LEN);
  /* the secret gives the key; the inviter signed the key with the rest */
  invite_key(raw + INV_SECRET, raw + a0, at - a0, out->seed, out->invite_pk);
  signed_msg(msg, out->network, out->founder, out->inviter, out->invite_pk, raw + INV_EXPIRES);
  if (crypto_sign_verify_detached(out->inviter_sig, msg, sizeof msg, out->inviter) != 0) {
    rc = KR_EBADSIG;
    goto bad;
  }
  sodium_memzero(raw, sizeof raw);
  return 0;
bad:
  sodium_memzero(raw, sizeof raw);
  sodium_memzero(out, sizeof *out);
  return rc;
}

void kr_invite_id(const kr_invite *inv, uint8_t id[static KR_SUBJECT_LEN])
{
  crypto_generichash(id, KR_SUBJECT_LEN, inv->invite_pk, KR_NODE_LEN, NULL, 0);
}

/* ---- join request ------------------------------------------------------------ */

int kr_join_make(const kr_invite *inv, const uint8_t node_sk[static 64], const char *org,
                 const char *kind, char *out, size_t cap)
{
  uint8_t raw[JOIN_ORG + KR_ORG_NAME_MAX + JOIN_TAIL], ipk[32], isk[64];
  uint8_t dm[sizeof join_domain - 1 + sizeof raw];
  size_t ol = org ? strlen(org) : 0, k = 0, at;

  while (kind && k < NKINDS && strcmp(kind, kinds[k]) != 0) k++;
  if (!ol || ol > KR_ORG_NAME_MAX || kr_text_single_ok(org, ol, NULL) || k == NKINDS ||
      !kr_kind_valid(kind))
    return KR_EINVAL;
  raw[0] = (uint8_t)k;
  memcpy(raw + JOIN_NODE, node_sk + 32, KR_NODE_LEN);
  raw[JOIN_ORGLEN] = (uint8_t)ol;
  memcpy(raw + JOIN_ORG, org, ol);
  at = JOIN_ORG + ol;
  memcpy(raw + at, inv->network, KR_JOIN_TAG_LEN);
  at += KR_JOIN_TAG_LEN;
  memcpy(raw + at, inv->inviter, KR_JOIN_TAG_LEN);
  at += KR_JOIN_TAG_LEN;
  put32(raw + at, (uint32_t)(inv->expires_ms / 60000));
  at += 4;
  memcpy(raw + at, inv->invite_pk, KR_NODE_LEN);
  at += KR_NODE_LEN;
  memcpy(raw + at, inv->inviter_sig, SIG_LEN);
  at += SIG_LEN;
  crypto_sign_seed_keypair(ipk, isk, inv->seed);
  kr_admit_proof(isk, node_sk + 32, kind, org, raw + at);
  sodium_memzero(isk, sizeof isk);
  at += SIG_LEN;
  memcpy(dm, join_domain, sizeof join_domain - 1);
  memcpy(dm + sizeof join_domain - 1, raw, at);
  crypto_sign_detached(raw + at, NULL, dm, sizeof join_domain - 1 + at, node_sk);
  at += SIG_LEN;
  return to_text(KR_JOIN_PREFIX, raw, at, out, cap);
}

int kr_join_parse(const char *text, kr_join_req *out)
{
  uint8_t raw[KR_INVITE_TEXT_MAX], dm[sizeof join_domain - 1 + JOIN_ORG + KR_ORG_NAME_MAX + JOIN_TAIL];
  const uint8_t *nsig;
  size_t len, ol, at;
  long total;
  int rc;

  memset(out, 0, sizeof *out);
  if ((rc = from_text(text, KR_JOIN_PREFIX, raw, &len))) goto bad;
  if ((total = line_len(1, raw, len)) <= 0 || (size_t)total > len) {
    rc = total < 0 ? KR_EMALFORMED : KR_ETRUNCATED;
    goto bad;
  }
  if ((size_t)total < len) { rc = KR_EMALFORMED; goto bad; }
  snprintf(out->kind, sizeof out->kind, "%s", kinds[raw[0]]);
  if (!kr_kind_valid(out->kind)) { rc = KR_EMALFORMED; goto bad; }
  memcpy(out->node, raw + JOIN_NODE, KR_NODE_LEN);
  ol = raw[JOIN_ORGLEN];
  if (kr_text_single_ok((const char *)raw + JOIN_ORG, ol, NULL)) { rc = KR_EMALFORMED; goto bad; }
  memcpy(out->org, raw + JOIN_ORG, ol);
  at = JOIN_ORG + ol;
  memcpy(out->network_tag, raw + at, KR_JOIN_TAG_LEN);
  at += KR_JOIN_TAG_LEN;
  memcpy(out->inviter_tag, raw + at, KR_JOIN_TAG_LEN);
  at += KR_JOIN_TAG_LEN;
  out->inv.expires_ms = (uint64_t)get32(raw + at) * 60000;
  at += 4;
  memcpy(out->inv.invite_pk, raw + at, KR_NODE_LEN);
  at += KR_NODE_LEN;
  memcpy(out->inv.inviter_sig, raw + at, SIG_LEN);
  at += SIG_LEN;
  memcpy(out->proof, raw + at, SIG_LEN);
  at += SIG_LEN;
  nsig = raw + at;
  /* the new node asks with all of it */
  memcpy(dm, join_domain, sizeof join_domain - 1);
  memcpy(dm + sizeof join_domain - 1, raw, at);
  if (crypto_sign_verify_detached(nsig, dm, sizeof join_domain - 1 + at, out->node) != 0) {
    rc = KR_EBADSIG;
    goto bad;
  }
  {
    kr_op a;                       /* the proof, as the admission will carry it */
    memset(&a, 0, sizeof a);
    kr_invite_key_id(out->inv.invite_pk, a.subject);
    memcpy(a.invite_pk, out->inv.invite_pk, KR_NODE_LEN);
    memcpy(a.member, out->node, KR_NODE_LEN);
    memcpy(a.proof, out->proof, SIG_LEN);
    a.org = out->org;
    a.kind = out->kind;
    if ((rc = kr_admit_check(&a))) goto bad;
  }
  return 0;
bad:
  memset(out, 0, sizeof *out);
  return rc;
}

int kr_join_check_inviter(const kr_join_req *req, const uint8_t network[static KR_NETWORK_LEN],
                          const uint8_t founder[static KR_NODE_LEN],
                          const uint8_t inviter[static KR_NODE_LEN])
{
  uint8_t msg[SIGNED_LEN], ex[4];
  put32(ex, (uint32_t)(req->inv.expires_ms / 60000));
  signed_msg(msg, network, founder, inviter, req->inv.invite_pk, ex);
  return crypto_sign_verify_detached(req->inv.inviter_sig, msg, sizeof msg, inviter) == 0
    ? 0 : KR_EBADSIG;
}

struct find {
  kr_join_req *req;
  uint8_t network[KR_NETWORK_LEN], founder[KR_NODE_LEN];
  int tagged, found;
};

static int try_inviter(void *ctx, const kr_member *m)
{
  struct find *f = ctx;
  if (memcmp(m->node, f->req->inviter_tag, KR_JOIN_TAG_LEN) != 0) return 0;
  f->tagged = 1;
  if (kr_join_check_inviter(f->req, f->network, f->founder, m->node) != 0) return 0;
  memcpy(f->req->inv.inviter, m->node, KR_NODE_LEN);
  f->found = 1;
  return 1;                        /* found: stop */
}

int kr_join_inviter(kr_node *n, kr_join_req *req)
{
  struct find f;
  int rc;

  memset(&f, 0, sizeof f);
  f.req = req;
  kr_node_network(n, f.network, f.founder);
  if (memcmp(req->network_tag, f.network, KR_JOIN_TAG_LEN) != 0) return KR_ENETWORK;
  if ((rc = kr_node_members(n, try_inviter, &f)) < 0) return rc;
  if (!f.found) return f.tagged ? KR_EBADSIG : KR_ENOTMEMBER;
  memcpy(req->inv.network, f.network, KR_NETWORK_LEN);
  memcpy(req->inv.founder, f.founder, KR_NODE_LEN);
  return 0;
}
