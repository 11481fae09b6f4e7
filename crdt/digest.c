/* digest: the canonical state hash (see digest.h). */
#include <string.h>

#include "crdt/digest.h"

static int feed(void *data, const char *buf, size_t len)
{
  kr_digest *d = data;
  crypto_generichash_update(&d->h, (const unsigned char *)buf, len);
  return 0;
}

static void str(kr_digest *d, const char *s)
{
  size_t n = strlen(s);
  msgpack_pack_str(&d->pk, n);
  msgpack_pack_str_body(&d->pk, s, n);
}

static void bin(kr_digest *d, const uint8_t *b, size_t n)
{
  msgpack_pack_bin(&d->pk, n);
  msgpack_pack_bin_body(&d->pk, b, n);
}

void kr_digest_init(kr_digest *d)
{
  static const char domain[] = "kring-digest-v1";
  crypto_generichash_init(&d->h, NULL, 0, 32);
  crypto_generichash_update(&d->h, (const unsigned char *)domain, sizeof domain - 1);
  msgpack_packer_init(&d->pk, d, feed);
}

void kr_digest_subject(kr_digest *d, const uint8_t subject[static KR_SUBJECT_LEN])
{
  str(d, "S");
  bin(d, subject, KR_SUBJECT_LEN);
}

void kr_digest_erased(kr_digest *d, const uint8_t subject[static KR_SUBJECT_LEN],
                      const kr_stamp *marker)
{
  str(d, "X");
  bin(d, subject, KR_SUBJECT_LEN);
  msgpack_pack_uint64(&d->pk, marker->hlc);
  bin(d, marker->origin, KR_NODE_LEN);
  msgpack_pack_uint32(&d->pk, marker->idx);
}

void kr_digest_field(kr_digest *d, int code, const char *value)
{
  str(d, "F");
  msgpack_pack_uint8(&d->pk, (uint8_t)code);
  str(d, value);
}

void kr_digest_element(kr_digest *d, int code, const char *value)
{
  str(d, "E");
  msgpack_pack_uint8(&d->pk, (uint8_t)code);
  str(d, value);
}

void kr_digest_consent(kr_digest *d, const char *purpose, const uint8_t *recipient,
                       const uint8_t *in_force)
{
  str(d, "C");
  str(d, purpose);
  if (recipient) bin(d, recipient, KR_NODE_LEN); else msgpack_pack_nil(&d->pk);
  if (in_force) bin(d, in_force, KR_TAG_LEN); else msgpack_pack_nil(&d->pk);
}

void kr_digest_consent_op(kr_digest *d, const uint8_t tag[static KR_TAG_LEN])
{
  str(d, "T");
  bin(d, tag, KR_TAG_LEN);
}

void kr_digest_member(kr_digest *d, const uint8_t node[static KR_NODE_LEN], const char *org,
                      const char *kind, uint64_t cutoff)
{
  str(d, "M");
  bin(d, node, KR_NODE_LEN);
  if (org) { str(d, org); str(d, kind); } else { msgpack_pack_nil(&d->pk); msgpack_pack_nil(&d->pk); }
  if (cutoff == UINT64_MAX) msgpack_pack_nil(&d->pk); else msgpack_pack_uint64(&d->pk, cutoff);
}

void kr_digest_purpose(kr_digest *d, const char *name, const char *description,
                       const char *text_version)
{
  str(d, "P");
  str(d, name);
  str(d, description);
  str(d, text_version);
}

void kr_digest_final(kr_digest *d, uint8_t out[static 32])
{
  crypto_generichash_final(&d->h, out, 32);
}
