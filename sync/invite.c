/* invite: invites and join requests (see invite.h). */
#include <stdlib.h>
#include <string.h>

#include <msgpack.h>
#include <sodium.h>

#include "crdt/buf.h"
#include "crdt/err.h"
#include "crdt/mp.h"
#include "node/validate.h"
#include "sync/invite.h"

static const char invite_domain[] = "kring-invite-v1";
static const char join_domain[] = "kring-join-v1";

/* Ed25519 over domain || msg, without copying msg twice. */
static void sign_dom(uint8_t sig[64], const char *dom, const uint8_t *msg, size_t len,
                     const uint8_t sk[64])
{
  uint8_t buf[4096];
  size_t dl = strlen(dom);
  memcpy(buf, dom, dl);
  memcpy(buf + dl, msg, len);
  crypto_sign_detached(sig, NULL, buf, dl + len, sk);
}

static int verify_dom(const uint8_t sig[64], const char *dom, const uint8_t *msg, size_t len,
                      const uint8_t pk[32])
{
  uint8_t buf[4096];
  size_t dl = strlen(dom);
  if (dl + len > sizeof buf) return KR_ETOOBIG;
  memcpy(buf, dom, dl);
  memcpy(buf + dl, msg, len);
  return crypto_sign_verify_detached(sig, buf, dl + len, pk) == 0 ? 0 : KR_EBADSIG;
}

/*
 * Both lines are "prefix" + base64url of one envelope:
 *   array(3) [body: bin, sig: bin(64), tail: bin(tail_len)]
 * (invite: the inviter's signature and the seed; join request: the proof
 * and the node's signature).
 */
static int envelope_to_text(const char *prefix, const kr_buf *body, const uint8_t sig[64],
                            const uint8_t *tail, size_t tail_len, char *out, size_t cap)
{
  size_t pl = strlen(prefix), need;
  msgpack_packer pk;
  kr_buf all;
  int e = 0, rc = 0;

  kr_buf_init(&all, KR_INVITE_TEXT_MAX);
  msgpack_packer_init(&pk, &all, kr_buf_mp_write);
  e |= msgpack_pack_array(&pk, 3);
  e |= msgpack_pack_bin(&pk, body->len) | msgpack_pack_bin_body(&pk, body->data, body->len);
  e |= msgpack_pack_bin(&pk, 64) | msgpack_pack_bin_body(&pk, sig, 64);
  e |= msgpack_pack_bin(&pk, tail_len) | msgpack_pack_bin_body(&pk, tail, tail_len);
  need = pl + sodium_base64_ENCODED_LEN(all.len, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
  if (e || need > cap || need > KR_INVITE_TEXT_MAX + 1) {
    rc = KR_ETOOBIG;
  } else {
    memcpy(out, prefix, pl);
    sodium_bin2base64(out + pl, cap - pl, all.data, all.len, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
  }
  kr_buf_free(&all);
  return rc;
}

/* The envelope behind "prefix<base64url>" (surrounding blanks ignored);
 * *body points into raw. */
static int envelope_from_text(const char *text, const char *prefix, uint8_t raw[KR_INVITE_TEXT_MAX],
                              const uint8_t **body, uint32_t *body_len, uint8_t sig[64],
                              uint8_t *tail, size_t tail_len)
{
  size_t pl = strlen(prefix), tl, len;
  const char *end;
  uint32_t n;
  kr_mp r;
  int rc;

  while (*text == ' ' || *text == '\t' || *text == '\n' || *text == '\r') text++;
  tl = strnlen(text, KR_INVITE_TEXT_MAX + 1);
  if (tl > KR_INVITE_TEXT_MAX) return KR_ETOOBIG;
  while (tl && (text[tl - 1] == ' ' || text[tl - 1] == '\t' || text[tl - 1] == '\n' ||
                text[tl - 1] == '\r'))
    tl--;
  if (tl < pl || memcmp(text, prefix, pl) != 0) return KR_EMALFORMED;
  if (sodium_base642bin(raw, KR_INVITE_TEXT_MAX, text + pl, tl - pl, NULL, &len, &end,
                        sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0 || end != text + tl)
    return KR_EMALFORMED;
  kr_mp_init(&r, raw, len);
  if ((rc = kr_mp_array(&r, &n))) return rc;
  if (n != 3) return KR_EMALFORMED;
  if ((rc = kr_mp_bin(&r, body, body_len)) || (rc = kr_mp_bin_fixed(&r, sig, 64)) ||
      (rc = kr_mp_bin_fixed(&r, tail, (uint32_t)tail_len)))
    return rc;
  return kr_mp_left(&r) ? KR_EMALFORMED : 0;
}

/* ---- a line that went through e-mail ---------------------------------------- */

static int b64url_char(int c)
{
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '_';
}

/* The length of one msgpack bin header at b (avail bytes) and of its
 * payload; 0 when the bytes end first, -1 when it is not a bin. */
static int bin_head(const uint8_t *b, size_t avail, size_t *head, size_t *len)
{
  if (avail < 1) return 0;
  switch (b[0]) {
  case 0xc4: *head = 2; break;
  case 0xc5: *head = 3; break;
  case 0xc6: *head = 5; break;
  default: return -1;
  }
  if (avail < *head) return 0;
  *len = b[1];
  for (size_t i = 2; i < *head; i++) *len = (*len << 8) | b[i];
  return 1;
}

int kr_invite_extract(const char *text, const char *prefix, char *out, size_t cap)
{
  const char *p = strstr(text, prefix);
  size_t pl = strlen(prefix), k = 0, len = 0, need, at = 1;
  char *chars;
  uint8_t *raw;
  int rc = KR_ETRUNCATED;

  if (!p) return KR_ENOTFOUND;
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
  /* decode whole groups of four (the envelope's headers all lie well
   * before its last 32 bytes, so a last partial group holds none) */
  if (sodium_base642bin(raw, KR_INVITE_TEXT_MAX, chars, k - k % 4, NULL, &len, NULL,
                        sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0) {
    rc = KR_EMALFORMED;
    goto out;
  }
  /* the envelope says how long it is: array(3) of three bins */
  if (len < 1) goto out;
  if (raw[0] != 0x93) { rc = KR_EMALFORMED; goto out; }
  for (int i = 0; i < 3; i++) {
    size_t head, blen;
    int h = at < len ? bin_head(raw + at, len - at, &head, &blen) : 0;
    if (h < 0) { rc = KR_EMALFORMED; goto out; }
    if (h == 0 || blen > KR_INVITE_TEXT_MAX) goto out;
    at += head + blen;
    if (at > KR_INVITE_TEXT_MAX) { rc = KR_ETOOBIG; goto out; }
  }
  need = (at * 4 + 2) / 3;          /* base64 without padding */
  if (need > k) goto out;           /* the text ends before the envelope */
  if (pl + need + 1 > cap) { rc = KR_ETOOBIG; goto out; }
  memcpy(out, prefix, pl);
  memcpy(out + pl, chars, need);
  out[pl + need] = 0;
  rc = 0;
out:
  free(chars);
  free(raw);
  return rc;
}

#define P(call) do { if ((call) != 0) { rc = KR_ETOOBIG; goto out; } } while (0)
#define PBIN(pk, b, n) do { P(msgpack_pack_bin(pk, n)); P(msgpack_pack_bin_body(pk, b, n)); } while (0)
#define PSTR(pk, s) do { size_t l_ = strlen(s); P(msgpack_pack_str(pk, l_)); \
                         P(msgpack_pack_str_body(pk, s, l_)); } while (0)

int kr_invite_make(const uint8_t inviter_sk[static 64], const uint8_t network[static KR_NETWORK_LEN],
                   const uint8_t founder[static KR_NODE_LEN], uint64_t expires_ms,
                   const char *const *addrs, size_t naddr, char *out, size_t cap)
{
  uint8_t seed[32], ipk[32], isk[64], sig[64];
  kr_buf body;
  msgpack_packer pk;
  int rc = 0;

  if (naddr > KR_INVITE_ADDRS) return KR_ETOOBIG;
  for (size_t i = 0; i < naddr; i++)
    if (!addrs[i][0] || strlen(addrs[i]) > KR_ADDR_MAX ||
        kr_text_single_ok(addrs[i], strlen(addrs[i]), NULL))
      return KR_EINVAL;
  kr_buf_init(&body, sizeof ((kr_invite *)0)->body);
  randombytes_buf(seed, sizeof seed);
  crypto_sign_seed_keypair(ipk, isk, seed);

  msgpack_packer_init(&pk, &body, kr_buf_mp_write);
  P(msgpack_pack_array(&pk, 7));
  P(msgpack_pack_uint8(&pk, 1));
  PBIN(&pk, network, KR_NETWORK_LEN);
  PBIN(&pk, founder, KR_NODE_LEN);
  PBIN(&pk, inviter_sk + 32, KR_NODE_LEN);
  PBIN(&pk, ipk, 32);
  P(msgpack_pack_uint64(&pk, expires_ms));
  P(msgpack_pack_array(&pk, (uint32_t)naddr));
  for (size_t i = 0; i < naddr; i++) PSTR(&pk, addrs[i]);
  sign_dom(sig, invite_domain, body.data, body.len, inviter_sk);
  rc = envelope_to_text(KR_INVITE_PREFIX, &body, sig, seed, sizeof seed, out, cap);
out:
  sodium_memzero(seed, sizeof seed);
  sodium_memzero(isk, sizeof isk);
  kr_buf_free(&body);
  return rc;
}

/* Decode and verify a signed invite body into inv. */
static int body_decode(const uint8_t *b, size_t len, const uint8_t sig[64], kr_invite *inv)
{
  kr_mp r;
  uint32_t n;
  uint64_t v;
  int rc;

  if (len > sizeof inv->body) return KR_ETOOBIG;
  memcpy(inv->body, b, len);
  inv->body_len = len;
  memcpy(inv->inviter_sig, sig, 64);
  kr_mp_init(&r, b, len);
  if ((rc = kr_mp_array(&r, &n))) return rc;
  if (n != 7) return KR_EMALFORMED;
  if ((rc = kr_mp_uint(&r, &v))) return rc;
  if (v != 1) return KR_EUNKNOWN;
  if ((rc = kr_mp_bin_fixed(&r, inv->network, KR_NETWORK_LEN)) ||
      (rc = kr_mp_bin_fixed(&r, inv->founder, KR_NODE_LEN)) ||
      (rc = kr_mp_bin_fixed(&r, inv->inviter, KR_NODE_LEN)) ||
      (rc = kr_mp_bin_fixed(&r, inv->invite_pk, KR_NODE_LEN)) ||
      (rc = kr_mp_uint(&r, &inv->expires_ms)) || (rc = kr_mp_array(&r, &n)))
    return rc;
  if (n > KR_INVITE_ADDRS) return KR_ETOOBIG;
  for (uint32_t i = 0; i < n; i++) {
    const char *s;
    uint32_t sl;
    if ((rc = kr_mp_str(&r, &s, &sl))) return rc;
    if (!sl || sl > KR_ADDR_MAX || kr_text_single_ok(s, sl, NULL)) return KR_EMALFORMED;
    memcpy(inv->addr[i], s, sl);
    inv->addr[i][sl] = 0;
  }
  inv->naddr = n;
  if (kr_mp_left(&r)) return KR_EMALFORMED;
  return verify_dom(sig, invite_domain, b, len, inv->inviter);
}

int kr_invite_parse(const char *text, kr_invite *out)
{
  uint8_t raw[KR_INVITE_TEXT_MAX];
  const uint8_t *body;
  uint8_t sig[64], ipk[32], isk[64];
  uint32_t bl;
  int rc;

  memset(out, 0, sizeof *out);
  if ((rc = envelope_from_text(text, KR_INVITE_PREFIX, raw, &body, &bl, sig, out->seed,
                               sizeof out->seed)))
    goto bad;
  if ((rc = body_decode(body, bl, sig, out))) goto bad;
  /* The secret must be the invite key's. */
  crypto_sign_seed_keypair(ipk, isk, out->seed);
  sodium_memzero(isk, sizeof isk);
  if (memcmp(ipk, out->invite_pk, 32) != 0) { rc = KR_EBADSIG; goto bad; }
  return 0;
bad:
  memset(out, 0, sizeof *out);
  return rc;
}

void kr_invite_id(const kr_invite *inv, uint8_t id[static KR_SUBJECT_LEN])
{
  crypto_generichash(id, KR_SUBJECT_LEN, inv->invite_pk, KR_NODE_LEN, NULL, 0);
}

int kr_join_make(const kr_invite *inv, const uint8_t node_sk[static 64], const char *org,
                 const char *kind, char *out, size_t cap)
{
  uint8_t ipk[32], isk[64], proof[64], nsig[64];
  kr_buf body;
  msgpack_packer pk;
  int rc = 0;

  if (!org || !org[0] || strlen(org) > KR_ORG_NAME_MAX || kr_text_single_ok(org, strlen(org), NULL) ||
      !kr_kind_valid(kind))
    return KR_EINVAL;
  kr_buf_init(&body, 4096);
  msgpack_packer_init(&pk, &body, kr_buf_mp_write);
  P(msgpack_pack_array(&pk, 6));
  P(msgpack_pack_uint8(&pk, 1));
  PBIN(&pk, inv->body, inv->body_len);
  PBIN(&pk, inv->inviter_sig, 64);
  PBIN(&pk, node_sk + 32, KR_NODE_LEN);
  PSTR(&pk, org);
  PSTR(&pk, kind);
  crypto_sign_seed_keypair(ipk, isk, inv->seed);
  kr_admit_proof(isk, node_sk + 32, proof);
  sign_dom(nsig, join_domain, body.data, body.len, node_sk);
  rc = envelope_to_text(KR_JOIN_PREFIX, &body, proof, nsig, sizeof nsig, out, cap);
out:
  sodium_memzero(isk, sizeof isk);
  kr_buf_free(&body);
  return rc;
}

int kr_join_parse(const char *text, kr_join_req *out)
{
  uint8_t raw[KR_INVITE_TEXT_MAX], proof[64], nsig[64], isig[64];
  const uint8_t *body, *ib;
  const char *s;
  uint32_t n, bl, ibl, sl;
  uint64_t v;
  kr_mp r;
  int rc;

  memset(out, 0, sizeof *out);
  if ((rc = envelope_from_text(text, KR_JOIN_PREFIX, raw, &body, &bl, proof, nsig, sizeof nsig)))
    goto bad;

  kr_mp_init(&r, body, bl);
  if ((rc = kr_mp_array(&r, &n))) goto bad;
  if (n != 6) { rc = KR_EMALFORMED; goto bad; }
  if ((rc = kr_mp_uint(&r, &v))) goto bad;
  if (v != 1) { rc = KR_EUNKNOWN; goto bad; }
  if ((rc = kr_mp_bin(&r, &ib, &ibl)) || (rc = kr_mp_bin_fixed(&r, isig, 64)) ||
      (rc = kr_mp_bin_fixed(&r, out->node, KR_NODE_LEN)))
    goto bad;
  if ((rc = kr_mp_str(&r, &s, &sl))) goto bad;
  if (!sl || sl > KR_ORG_NAME_MAX || kr_text_single_ok(s, sl, NULL)) { rc = KR_EMALFORMED; goto bad; }
  memcpy(out->org, s, sl);
  if ((rc = kr_mp_str(&r, &s, &sl))) goto bad;
  if (sl >= sizeof out->kind) { rc = KR_EMALFORMED; goto bad; }
  memcpy(out->kind, s, sl);
  if (!kr_kind_valid(out->kind)) { rc = KR_EMALFORMED; goto bad; }
  if (kr_mp_left(&r)) { rc = KR_EMALFORMED; goto bad; }
  if ((rc = body_decode(ib, ibl, isig, &out->inv))) goto bad;
  {
    kr_op a;                       /* the proof, as the admission will carry it */
    memset(&a, 0, sizeof a);
    kr_invite_key_id(out->inv.invite_pk, a.subject);
    memcpy(a.invite_pk, out->inv.invite_pk, KR_NODE_LEN);
    memcpy(a.member, out->node, KR_NODE_LEN);
    memcpy(a.proof, proof, 64);
    if ((rc = kr_admit_check(&a))) goto bad;
  }
  if ((rc = verify_dom(nsig, join_domain, body, bl, out->node))) goto bad;
  memcpy(out->proof, proof, 64);
  return 0;
bad:
  memset(out, 0, sizeof *out);
  return rc;
}
