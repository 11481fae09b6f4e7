/* bundle: the bundle file format (see bundle.h). */
#include <stdlib.h>
#include <string.h>

#include <msgpack.h>

#include "crdt/change.h"
#include "crdt/err.h"
#include "crdt/mp.h"
#include "sync/bundle.h"

#define MAGIC_LEN 8
#define CIPHER_MAX (KR_BUNDLE_CHUNK_MAX + crypto_secretstream_xchacha20poly1305_ABYTES)
static const char sig_domain[] = "kring-bundle-v1";

static void put32(uint8_t *p, uint32_t v)
{
  p[0] = (uint8_t)(v >> 24); p[1] = (uint8_t)(v >> 16); p[2] = (uint8_t)(v >> 8); p[3] = (uint8_t)v;
}

static uint32_t get32(const uint8_t *p)
{
  return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* The signed message: domain || BLAKE2b-512 of the bytes before the signature. */
static void sig_message(crypto_generichash_state *h, uint8_t msg[sizeof sig_domain - 1 + 64])
{
  memcpy(msg, sig_domain, sizeof sig_domain - 1);
  crypto_generichash_final(h, msg + sizeof sig_domain - 1, 64);
}

/* ---- reading ------------------------------------------------------------ */

/* Exactly n bytes, or KR_ETRUNCATED. */
static int read_all(kr_bundle_reader *r, kr_read_fn rd, void *ctx, void *buf, size_t n)
{
  size_t got = 0;
  while (got < n) {
    long k = rd(ctx, (uint8_t *)buf + got, n - got);
    if (k < 0) return (int)k;
    if (k == 0) return KR_ETRUNCATED;
    got += (size_t)k;
  }
  r->bytes += n;
  return 0;
}

static int header_decode(kr_bundle_hdr *h, const uint8_t *b, size_t len)
{
  kr_mp r;
  uint32_t n, two;
  uint64_t v;
  int rc;

  kr_mp_init(&r, b, len);
  if ((rc = kr_mp_array(&r, &n))) return rc;
  if (n != 9) return KR_EMALFORMED;
  if ((rc = kr_mp_uint(&r, &v))) return rc;
  if (v != KR_BUNDLE_VERSION) return KR_EUNKNOWN;     /* another kring's */
  if ((rc = kr_mp_bin_fixed(&r, h->network, KR_NETWORK_LEN)) ||
      (rc = kr_mp_bin_fixed(&r, h->exporter, KR_NODE_LEN)) ||
      (rc = kr_mp_uint(&r, &h->created_ms)))
    return rc;
  if (kr_mp_take_nil(&r)) {
    h->has_for = 0;
  } else {
    if ((rc = kr_mp_bin_fixed(&r, h->for_node, KR_NODE_LEN))) return rc;
    h->has_for = 1;
  }
  if ((rc = kr_vv_decode(&r, &h->vector)) || (rc = kr_mp_uint(&r, &h->count)) ||
      (rc = kr_mp_array(&r, &n)))
    return rc;
  if (n > KR_BUNDLE_RCPT_MAX || n == 0) return n ? KR_ETOOBIG : KR_EMALFORMED;
  /* Each entry takes at least 118 bytes: no allocation past the input. */
  if ((size_t)n * 118 > kr_mp_left(&r)) return KR_ETRUNCATED;
  if (!(h->rcpt = malloc(n * sizeof *h->rcpt)) || !(h->sealed = malloc(n * sizeof *h->sealed)))
    return KR_ENOMEM;
  for (uint32_t i = 0; i < n; i++) {
    if ((rc = kr_mp_array(&r, &two))) return rc;
    if (two != 2) return KR_EMALFORMED;
    if ((rc = kr_mp_bin_fixed(&r, h->rcpt[i], KR_NODE_LEN)) ||
        (rc = kr_mp_bin_fixed(&r, h->sealed[i], KR_SEALED_LEN)))
      return rc;
    if (i && memcmp(h->rcpt[i - 1], h->rcpt[i], KR_NODE_LEN) >= 0) return KR_ENONCANON;
    h->nrcpt = i + 1;
  }
  if ((rc = kr_mp_bin_fixed(&r, h->ss_header, sizeof h->ss_header))) return rc;
  return kr_mp_left(&r) ? KR_EMALFORMED : 0;
}

int kr_bundle_read_header(kr_bundle_reader *r, kr_read_fn rd, void *ctx)
{
  uint8_t pre[MAGIC_LEN + 4], *hdr;
  uint32_t len;
  int rc;

  memset(r, 0, sizeof *r);
  crypto_generichash_init(&r->hash, NULL, 0, 64);
  /* Too short for the magic, or other magic: not a bundle at all. */
  if ((rc = read_all(r, rd, ctx, pre, MAGIC_LEN))) return rc == KR_ETRUNCATED ? KR_EMALFORMED : rc;
  if (memcmp(pre, KR_BUNDLE_MAGIC, MAGIC_LEN) != 0) return KR_EMALFORMED;
  if ((rc = read_all(r, rd, ctx, pre + MAGIC_LEN, 4))) return rc;
  len = get32(pre + MAGIC_LEN);
  if (len > KR_BUNDLE_HEADER_MAX) return KR_ETOOBIG;
  if (!(hdr = malloc(len ? len : 1))) return KR_ENOMEM;
  if ((rc = read_all(r, rd, ctx, hdr, len))) goto out;
  crypto_generichash_update(&r->hash, pre, sizeof pre);
  crypto_generichash_update(&r->hash, hdr, len);
  {
    crypto_generichash_state a;
    crypto_generichash_init(&a, NULL, 0, sizeof r->ad);
    crypto_generichash_update(&a, pre, sizeof pre);
    crypto_generichash_update(&a, hdr, len);
    crypto_generichash_final(&a, r->ad, sizeof r->ad);
  }
  rc = header_decode(&r->h, hdr, len);
out:
  free(hdr);
  return rc;
}

int kr_bundle_unlock(kr_bundle_reader *r, const uint8_t sk[static 64])
{
  uint8_t xpk[32], xsk[32], key[32];
  int rc = KR_ENOKEY;

  for (uint32_t i = 0; i < r->h.nrcpt; i++) {
    if (memcmp(r->h.rcpt[i], sk + 32, KR_NODE_LEN) != 0) continue;
    if (crypto_sign_ed25519_pk_to_curve25519(xpk, sk + 32) != 0 ||
        crypto_sign_ed25519_sk_to_curve25519(xsk, sk) != 0)
      return KR_EINVAL;
    if (crypto_box_seal_open(key, r->h.sealed[i], KR_SEALED_LEN, xpk, xsk) != 0) {
      rc = KR_EBADSIG;
    } else if (crypto_secretstream_xchacha20poly1305_init_pull(&r->ss, r->h.ss_header, key) != 0) {
      rc = KR_EMALFORMED;
    } else {
      r->unlocked = 1;
      rc = 0;
    }
    break;
  }
  sodium_memzero(xsk, sizeof xsk);
  sodium_memzero(key, sizeof key);
  return rc;
}

int kr_bundle_read_chunk(kr_bundle_reader *r, kr_read_fn rd, void *ctx, kr_buf *plain, int *end)
{
  uint8_t lenb[4], sig[64], msg[sizeof sig_domain - 1 + 64], tag;
  unsigned long long plen;
  uint32_t len;
  int rc;

  *end = 0;
  plain->len = 0;
  if (!r->unlocked) return KR_EINVAL;
  if ((rc = read_all(r, rd, ctx, lenb, 4))) return rc;
  crypto_generichash_update(&r->hash, lenb, 4);
  len = get32(lenb);
  if (len == 0) {
    uint8_t extra;
    if (!r->final_seen) return KR_ETRUNCATED;
    if ((rc = read_all(r, rd, ctx, sig, sizeof sig))) return rc;
    if (rd(ctx, &extra, 1) != 0) return KR_EMALFORMED;   /* bytes after the signature */
    sig_message(&r->hash, msg);
    if (crypto_sign_verify_detached(sig, msg, sizeof msg, r->h.exporter) != 0) return KR_EBADSIG;
    *end = 1;
    return 0;
  }
  if (r->final_seen) return KR_EMALFORMED;                 /* a chunk after the last */
  if (len < crypto_secretstream_xchacha20poly1305_ABYTES || len > CIPHER_MAX) return KR_ETOOBIG;
  if (!r->cbuf && !(r->cbuf = malloc(CIPHER_MAX))) return KR_ENOMEM;
  if ((rc = read_all(r, rd, ctx, r->cbuf, len))) return rc;
  crypto_generichash_update(&r->hash, r->cbuf, len);
  if (kr_buf_reserve(plain, len)) return KR_ENOMEM;
  if (crypto_secretstream_xchacha20poly1305_pull(&r->ss, plain->data, &plen, &tag, r->cbuf, len,
                                                 r->ad, sizeof r->ad) != 0)
    return KR_EBADSIG;
  plain->len = (size_t)plen;
  if (tag == crypto_secretstream_xchacha20poly1305_TAG_FINAL) r->final_seen = 1;
  else if (tag != crypto_secretstream_xchacha20poly1305_TAG_MESSAGE) return KR_EMALFORMED;
  return 0;
}

int kr_bundle_next_change(const kr_buf *plain, size_t *off, const uint8_t **chg, size_t *len)
{
  uint32_t n;

  *chg = NULL;
  *len = 0;
  if (*off == plain->len) return 0;
  if (plain->len - *off < 4) return KR_ETRUNCATED;
  n = get32(plain->data + *off);
  if (n == 0 || n > KR_CHANGE_MAX) return KR_ETOOBIG;
  if (plain->len - *off - 4 < n) return KR_ETRUNCATED;
  *chg = plain->data + *off + 4;
  *len = n;
  *off += 4 + (size_t)n;
  return 0;
}

void kr_bundle_reader_free(kr_bundle_reader *r)
{
  kr_vv_free(&r->h.vector);
  free(r->h.rcpt);
  free(r->h.sealed);
  free(r->cbuf);
  sodium_memzero(&r->ss, sizeof r->ss);
  memset(r, 0, sizeof *r);
}

/* ---- writing ------------------------------------------------------------ */

static int emit(kr_bundle_writer *w, const void *buf, size_t n)
{
  int rc = w->wr(w->ctx, buf, n);
  if (rc) return rc;
  crypto_generichash_update(&w->hash, buf, n);
  w->written += n;
  return 0;
}

static int cmp_node(const void *a, const void *b) { return memcmp(a, b, KR_NODE_LEN); }

int kr_bundle_write_begin(kr_bundle_writer *w, const uint8_t sk[static 64],
                          const uint8_t network[static KR_NETWORK_LEN], const uint8_t *for_node,
                          const kr_vv *vector, uint64_t count, uint64_t created_ms,
                          const uint8_t (*rcpt)[KR_NODE_LEN], uint32_t nrcpt,
                          kr_write_fn wr, void *ctx)
{
  uint8_t key[32], ssh[crypto_secretstream_xchacha20poly1305_HEADERBYTES], pre[MAGIC_LEN + 4];
  uint8_t (*sorted)[KR_NODE_LEN] = NULL;
  kr_buf hdr;
  msgpack_packer pk;
  uint32_t n = 0;
  int rc = 0, e = 0;

  memset(w, 0, sizeof *w);
  w->wr = wr;
  w->ctx = ctx;
  w->sk = sk;
  kr_buf_init(&w->pending, KR_BUNDLE_CHUNK_MAX);
  kr_buf_init(&hdr, KR_BUNDLE_HEADER_MAX);
  crypto_generichash_init(&w->hash, NULL, 0, 64);
  if (nrcpt == 0 || nrcpt > KR_BUNDLE_RCPT_MAX) return KR_EINVAL;
  if (!(sorted = malloc(nrcpt * sizeof *sorted))) return KR_ENOMEM;
  memcpy(sorted, rcpt, nrcpt * sizeof *sorted);
  qsort(sorted, nrcpt, sizeof *sorted, cmp_node);
  for (uint32_t i = 0; i < nrcpt; i++)
    if (!n || memcmp(sorted[n - 1], sorted[i], KR_NODE_LEN)) memcpy(sorted[n++], sorted[i], KR_NODE_LEN);

  crypto_secretstream_xchacha20poly1305_keygen(key);
  crypto_secretstream_xchacha20poly1305_init_push(&w->ss, ssh, key);
  msgpack_packer_init(&pk, &hdr, kr_buf_mp_write);
  e |= msgpack_pack_array(&pk, 9);
  e |= msgpack_pack_uint8(&pk, KR_BUNDLE_VERSION);
  e |= msgpack_pack_bin(&pk, KR_NETWORK_LEN) | msgpack_pack_bin_body(&pk, network, KR_NETWORK_LEN);
  e |= msgpack_pack_bin(&pk, KR_NODE_LEN) | msgpack_pack_bin_body(&pk, sk + 32, KR_NODE_LEN);
  e |= msgpack_pack_uint64(&pk, created_ms);
  if (for_node)
    e |= msgpack_pack_bin(&pk, KR_NODE_LEN) | msgpack_pack_bin_body(&pk, for_node, KR_NODE_LEN);
  else
    e |= msgpack_pack_nil(&pk);
  if (e || (rc = kr_vv_encode(vector, &hdr))) { rc = rc ? rc : KR_ETOOBIG; goto out; }
  e |= msgpack_pack_uint64(&pk, count);
  e |= msgpack_pack_array(&pk, n);
  for (uint32_t i = 0; i < n && !e; i++) {
    uint8_t xpk[32], sealed[KR_SEALED_LEN];
    if (crypto_sign_ed25519_pk_to_curve25519(xpk, sorted[i]) != 0) { rc = KR_EINVAL; goto out; }
    crypto_box_seal(sealed, key, sizeof key, xpk);
    e |= msgpack_pack_array(&pk, 2);
    e |= msgpack_pack_bin(&pk, KR_NODE_LEN) | msgpack_pack_bin_body(&pk, sorted[i], KR_NODE_LEN);
    e |= msgpack_pack_bin(&pk, KR_SEALED_LEN) | msgpack_pack_bin_body(&pk, sealed, KR_SEALED_LEN);
  }
  e |= msgpack_pack_bin(&pk, sizeof ssh) | msgpack_pack_bin_body(&pk, ssh, sizeof ssh);
  if (e) { rc = KR_ETOOBIG; goto out; }

  memcpy(pre, KR_BUNDLE_MAGIC, MAGIC_LEN);
  put32(pre + MAGIC_LEN, (uint32_t)hdr.len);
  {
    crypto_generichash_state a;
    crypto_generichash_init(&a, NULL, 0, sizeof w->ad);
    crypto_generichash_update(&a, pre, sizeof pre);
    crypto_generichash_update(&a, hdr.data, hdr.len);
    crypto_generichash_final(&a, w->ad, sizeof w->ad);
  }
  if ((rc = emit(w, pre, sizeof pre)) || (rc = emit(w, hdr.data, hdr.len))) goto out;
  if (!(w->cbuf = malloc(CIPHER_MAX))) rc = KR_ENOMEM;
out:
  sodium_memzero(key, sizeof key);
  free(sorted);
  kr_buf_free(&hdr);
  return rc;
}

static int flush(kr_bundle_writer *w, int final)
{
  unsigned long long clen;
  uint8_t lenb[4];
  int rc;

  crypto_secretstream_xchacha20poly1305_push(
      &w->ss, w->cbuf, &clen, w->pending.data ? w->pending.data : (const uint8_t *)"",
      w->pending.len, w->ad, sizeof w->ad,
      final ? crypto_secretstream_xchacha20poly1305_TAG_FINAL
            : crypto_secretstream_xchacha20poly1305_TAG_MESSAGE);
  put32(lenb, (uint32_t)clen);
  if ((rc = emit(w, lenb, 4)) || (rc = emit(w, w->cbuf, (size_t)clen))) return rc;
  w->pending.len = 0;
  return 0;
}

int kr_bundle_write_change(kr_bundle_writer *w, const uint8_t *chg, size_t len)
{
  uint8_t lenb[4];
  int rc;

  if (len == 0 || len > KR_CHANGE_MAX) return KR_EINVAL;
  if (w->pending.len && w->pending.len + 4 + len > KR_BUNDLE_CHUNK_MAX && (rc = flush(w, 0)))
    return rc;
  put32(lenb, (uint32_t)len);
  if (kr_buf_add(&w->pending, lenb, 4) || kr_buf_add(&w->pending, chg, len)) return KR_ENOMEM;
  if (w->pending.len >= KR_BUNDLE_CHUNK_AIM) return flush(w, 0);
  return 0;
}

int kr_bundle_write_end(kr_bundle_writer *w)
{
  uint8_t zero[4] = {0, 0, 0, 0}, msg[sizeof sig_domain - 1 + 64], sig[64];
  int rc;

  if ((rc = flush(w, 1)) || (rc = emit(w, zero, 4))) return rc;
  sig_message(&w->hash, msg);
  crypto_sign_detached(sig, NULL, msg, sizeof msg, w->sk);
  if ((rc = w->wr(w->ctx, sig, sizeof sig))) return rc;
  w->written += sizeof sig;
  return 0;
}

void kr_bundle_writer_free(kr_bundle_writer *w)
{
  kr_buf_free(&w->pending);
  free(w->cbuf);
  sodium_memzero(w, sizeof *w);
}
