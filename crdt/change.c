/* change: building, assembling, decoding and verifying changes. */
#include <stdlib.h>
#include <string.h>

#include <msgpack.h>
#include <sodium.h>

#include "crdt/change.h"
#include "crdt/err.h"
#include "crdt/mp.h"

/* A bump allocator over one block, sized up front from the input length. */
typedef struct {
  uint8_t *p, *end;
} arena;

static void *arena_get(arena *a, size_t n)
{
  uint8_t *r;
  uintptr_t pad = (uintptr_t)a->p % 16 ? 16 - (uintptr_t)a->p % 16 : 0;

  if ((size_t)(a->end - a->p) < pad + n)
    return NULL;
  r = a->p + pad;
  a->p = r + n;
  return r;
}

static int take_str(kr_mp *r, arena *a, size_t max, const char **out)
{
  const char *s;
  uint32_t n;
  char *c;
  int rc = kr_mp_str(r, &s, &n);

  if (rc) return rc;
  if (n > max || !kr_utf8_ok(s, n)) return KR_EMALFORMED;
  if (!(c = arena_get(a, (size_t)n + 1))) return KR_ENOMEM;
  memcpy(c, s, n);
  c[n] = 0;
  *out = c;
  return 0;
}

static int take_tags(kr_mp *r, arena *a, kr_op *op)
{
  uint32_t n;
  uint8_t *t;
  int rc = kr_mp_array(r, &n);

  if (rc) return rc;
  if (n > KR_TAGS_MAX) return KR_ETOOBIG;
  op->ntags = n;
  op->tags = NULL;
  if (!n) return 0;
  if (!(t = arena_get(a, (size_t)n * KR_TAG_LEN))) return KR_ENOMEM;
  for (uint32_t i = 0; i < n; i++)
    if ((rc = kr_mp_bin_fixed(r, t + (size_t)i * KR_TAG_LEN, KR_TAG_LEN)))
      return rc;
  /* Canonical: tags in strictly ascending order, no repeats. */
  for (uint32_t i = 1; i < n; i++)
    if (memcmp(t + (size_t)(i - 1) * KR_TAG_LEN, t + (size_t)i * KR_TAG_LEN, KR_TAG_LEN) >= 0)
      return KR_ENONCANON;
  op->tags = t;
  return 0;
}

/* A node by its number in t (0: the origin). */
static int take_no(kr_mp *r, const kr_nodes *t, uint8_t id[KR_NODE_LEN])
{
  const uint8_t *p;
  uint64_t v;
  int rc = kr_mp_uint(r, &v);

  if (rc) return rc;
  if (!(p = kr_nodes_id(t, v))) return KR_EMALFORMED;
  memcpy(id, p, KR_NODE_LEN);
  return 0;
}

/* One inner op (inside a group of subject) from r: its code, then its
 * fields (docs/protocol.md, "Inner ops"). */
static int inner_read(kr_mp *rd, kr_op *op, arena *a, const uint8_t *subject, const kr_nodes *t)
{
  kr_mp r = *rd;
  uint64_t v;
  int rc;

  memset(op, 0, sizeof *op);
  memcpy(op->subject, subject, KR_SUBJECT_LEN);
  if ((rc = kr_mp_uint(&r, &v))) return rc;
  if (v >= 1 && v <= 31) {
    op->type = KR_OP_SET;
    op->field = (uint8_t)v;
    if (kr_mp_take_nil(&r)) op->value = NULL;
    else if ((rc = take_str(&r, a, KR_VALUE_MAX, &op->value))) return rc;
  } else if (v >= 32 && v <= 63) {
    op->type = KR_OP_ADD;
    op->field = (uint8_t)v;
    if ((rc = take_str(&r, a, KR_VALUE_MAX, &op->value))) return rc;
  } else if (v >= 32 + KR_INNER_REMOVE && v <= 63 + KR_INNER_REMOVE) {
    op->type = KR_OP_REMOVE;
    op->field = (uint8_t)(v - KR_INNER_REMOVE);
    if ((rc = take_str(&r, a, KR_VALUE_MAX, &op->value))) return rc;
    if ((rc = take_tags(&r, a, op))) return rc;
  } else if (v == KR_INNER_GRANT) {
    op->type = KR_OP_GRANT;
    if ((rc = take_str(&r, a, KR_PURPOSE_MAX, &op->purpose))) return rc;
    if (kr_mp_take_nil(&r)) {
      op->recipient_all = 1;
    } else if (kr_mp_left(&r) && (*r.p == 0xc4)) {
      /* by id only when the change's table lacks it (canonical) */
      if ((rc = kr_mp_bin_fixed(&r, op->recipient, KR_NODE_LEN))) return rc;
      if (kr_nodes_no(t, op->recipient) >= 0) return KR_ENONCANON;
    } else if ((rc = take_no(&r, t, op->recipient))) {
      return rc;
    }
    if ((rc = kr_mp_uint(&r, &v))) return rc;
    if (v > KR_METHOD_DIGITAL) return KR_EUNKNOWN;
    op->method = (uint8_t)v;
    if ((rc = take_str(&r, a, KR_TEXT_VERSION_MAX, &op->text_version))) return rc;
    if ((rc = take_str(&r, a, 10, &op->until))) return rc;
    if ((rc = take_tags(&r, a, op))) return rc;
  } else {
    return KR_EUNKNOWN;
  }
  *rd = r;
  return kr_op_check(op);
}

/* One op of a change from r (nodes by their numbers in t): it names its
 * subject and may not be a sealed type. */
static int op_read(kr_mp *rd, kr_op *op, arena *a, const kr_nodes *t)
{
  kr_mp r = *rd;
  uint32_t n;
  uint64_t v;
  int rc;

  memset(op, 0, sizeof *op);
  if ((rc = kr_mp_array(&r, &n))) return rc;
  if ((rc = kr_mp_uint(&r, &v))) return rc;
  if (v > 255) return KR_EUNKNOWN;
  op->type = (uint8_t)v;
  /* 1-4 travel sealed only; 10-12 as parts of a record only */
  if (KR_OP_IS_SEALED(v) || (v >= KR_OP_GROUP && v <= KR_OP_REGISTER)) return KR_EUNKNOWN;
  if (n < 2) return KR_EMALFORMED;
  /* a registering record's subject is derived (the caller sets it) */
  if (v != KR_OP_REGREC && (rc = kr_mp_bin_fixed(&r, op->subject, KR_SUBJECT_LEN))) return rc;
  switch (v) {
  case KR_OP_WITHDRAW:
    if (n != 6) return KR_EMALFORMED;
    if ((rc = take_str(&r, a, KR_PURPOSE_MAX, &op->purpose))) return rc;
    if (kr_mp_take_nil(&r))
      op->recipient_all = 1;
    else if ((rc = take_no(&r, t, op->recipient)))
      return rc;
    if ((rc = kr_mp_uint(&r, &v))) return rc;
    if (v > KR_METHOD_DIGITAL) return KR_EUNKNOWN;
    op->method = (uint8_t)v;
    if ((rc = take_str(&r, a, 64, &op->text_version))) return rc;
    break;
  case KR_OP_ERASE:
    if (n != 3) return KR_EMALFORMED;
    if ((rc = take_str(&r, a, KR_REASON_MAX, &op->value))) return rc;
    break;
  case KR_OP_FOUND:
  case KR_OP_ADMIT:
    if (n != (v == KR_OP_FOUND ? 4u : 7u)) return KR_EMALFORMED;
    if (v == KR_OP_ADMIT && (rc = kr_mp_bin_fixed(&r, op->member, KR_NODE_LEN))) return rc;
    if ((rc = take_str(&r, a, KR_ORG_NAME_MAX, &op->org))) return rc;
    if ((rc = take_str(&r, a, 16, &op->kind))) return rc;
    if (v == KR_OP_ADMIT && ((rc = kr_mp_bin_fixed(&r, op->invite_pk, KR_NODE_LEN)) ||
                             (rc = kr_mp_bin_fixed(&r, op->proof, 64))))
      return rc;
    break;
  case KR_OP_EXPEL:
    if (n != 5) return KR_EMALFORMED;
    if ((rc = kr_mp_bin_fixed(&r, op->member, KR_NODE_LEN))) return rc;
    if ((rc = kr_mp_uint(&r, &op->after_seq))) return rc;
    if ((rc = take_str(&r, a, KR_REASON_MAX, &op->value))) return rc;
    break;
  case KR_OP_RECORD:
  case KR_OP_REGREC: {
    const uint8_t *b;
    uint32_t blen, m;
    int64_t prev = -1;
    if (n != (v == KR_OP_RECORD ? 6u : 5u)) return KR_EMALFORMED;
    if ((rc = kr_mp_uint(&r, &op->epoch))) return rc;
    if ((rc = take_no(&r, t, op->creator))) return rc;
    if (!kr_mp_take_nil(&r)) {
      uint8_t *copy;
      if ((rc = kr_mp_bin(&r, &b, &blen))) return rc;
      if (blen < KR_BOX_MIN) return KR_EMALFORMED;
      if (!(copy = arena_get(a, blen))) return KR_ENOMEM;
      memcpy(copy, b, blen);
      op->box = copy;
      op->box_len = blen;
    }
    if ((rc = kr_mp_array(&r, &m))) return rc;
    if (m % 2 || m / 2 > KR_NODES_MAX + 1) return KR_EMALFORMED;
    /* each entry takes at least 51 bytes here (a one-byte number, bin(48))
     * and 88 of the arena: a count the bytes cannot hold is refused before
     * anything is taken for it (else KR_ENOMEM, which is no refusal) */
    if ((size_t)(m / 2) * (1 + 2 + KR_SEALED_KEY_LEN) > kr_mp_left(&r)) return KR_EMALFORMED;
    op->nkeys = m / 2;
    if (op->nkeys) {
      kr_keyent *e = arena_get(a, sizeof *e * op->nkeys);
      uint8_t *sealed = arena_get(a, (size_t)KR_SEALED_KEY_LEN * op->nkeys);
      if (!e || !sealed) return KR_ENOMEM;
      for (uint32_t k = 0; k < op->nkeys; k++) {
        uint64_t no;
        const uint8_t *id;
        if ((rc = kr_mp_uint(&r, &no))) return rc;
        if (!(id = kr_nodes_id(t, no))) return KR_EMALFORMED;
        if ((int64_t)no <= prev) return KR_ENONCANON;     /* readers strictly ascending */
        prev = (int64_t)no;
        memcpy(e[k].reader, id, KR_NODE_LEN);
        if ((rc = kr_mp_bin_fixed(&r, sealed + (size_t)k * KR_SEALED_KEY_LEN, KR_SEALED_KEY_LEN)))
          return rc;
        e[k].sealed = sealed + (size_t)k * KR_SEALED_KEY_LEN;
      }
      op->keys = e;
    }
    break;
  }
  case KR_OP_PURPOSE:
    /* kr_op_check below refuses a key that is not the hash of the name */
    if (n != 5) return KR_EMALFORMED;
    if ((rc = take_str(&r, a, KR_PURPOSE_MAX, &op->purpose))) return rc;
    if ((rc = take_str(&r, a, KR_PURPOSE_DESC_MAX, &op->value))) return rc;
    if ((rc = take_str(&r, a, KR_TEXT_VERSION_MAX, &op->text_version))) return rc;
    break;
  default:
    return KR_EUNKNOWN;
  }
  *rd = r;
  return kr_op_check(op);
}

static int op_decode(const uint8_t *buf, size_t len, kr_op *op, arena *a, const kr_nodes *t)
{
  kr_mp r;
  int rc;

  kr_mp_init(&r, buf, len);
  if ((rc = op_read(&r, op, a, t))) return rc;
  return kr_mp_left(&r) ? KR_EMALFORMED : 0;
}

int kr_op_parse(const uint8_t *buf, size_t len, const kr_nodes *t, kr_op *op, void **mem)
{
  arena a;
  int rc;

  *mem = NULL;
  if (len > KR_CHANGE_MAX) return KR_ETOOBIG;
  if (!(*mem = malloc(2 * len + 64))) return KR_ENOMEM;
  a.p = *mem;
  a.end = a.p + 2 * len + 64;
  if ((rc = op_decode(buf, len, op, &a, t))) {
    free(*mem);
    *mem = NULL;
  }
  return rc;
}

#define ROOT_DOMAIN "kring-ops-4"

/* The root the header signs: BLAKE2b-256("kring-ops-4" || leaf0 || ...
 * || leaf(n-1)), an op's leaf BLAKE2b-256(type (1) || subject (16) ||
 * hash of its bytes), so that a withheld op's type and subject are signed
 * too. Fed an op at a time (root_add). */
static void root_init(crypto_generichash_state *h)
{
  crypto_generichash_init(h, NULL, 0, KR_HASH_LEN);
  crypto_generichash_update(h, (const uint8_t *)ROOT_DOMAIN, sizeof ROOT_DOMAIN - 1);
}

static void root_add(crypto_generichash_state *root, uint8_t type,
                     const uint8_t subject[KR_SUBJECT_LEN], const uint8_t hash[KR_HASH_LEN])
{
  crypto_generichash_state h;
  uint8_t leaf[KR_HASH_LEN];

  crypto_generichash_init(&h, NULL, 0, KR_HASH_LEN);
  crypto_generichash_update(&h, &type, 1);
  crypto_generichash_update(&h, subject, KR_SUBJECT_LEN);
  crypto_generichash_update(&h, hash, KR_HASH_LEN);
  crypto_generichash_final(&h, leaf, KR_HASH_LEN);
  crypto_generichash_update(root, leaf, KR_HASH_LEN);
}

/* The types that may be withheld: the ops on a volunteer an erasure takes
 * (never an erasure, membership or purpose op). */
#define WITHHOLDABLE(t) ((t) == KR_OP_WITHDRAW || KR_OP_IS_RECORD(t))

/* The type and the 16-byte key that lead every op's encoding; a
 * registering record names none (its subject is derived): subject is
 * left as it is. */
static int op_head(const uint8_t *b, size_t len, uint8_t *type, uint8_t subject[KR_SUBJECT_LEN])
{
  kr_mp r;
  uint32_t n;
  uint64_t t;

  kr_mp_init(&r, b, len);
  if (kr_mp_array(&r, &n) || n < 2 || kr_mp_uint(&r, &t) || t > 255 ||
      (t != KR_OP_REGREC && kr_mp_bin_fixed(&r, subject, KR_SUBJECT_LEN)))
    return KR_EMALFORMED;
  *type = (uint8_t)t;
  return 0;
}

/* Records by subject, epoch and creator (for the rule "one record per
 * (subject, epoch, creator)", and "no record on a subject the same change
 * registers"). */
static int cmp_record(const void *a, const void *b)
{
  const kr_op *x = *(const kr_op *const *)a, *y = *(const kr_op *const *)b;
  int c = memcmp(x->subject, y->subject, KR_SUBJECT_LEN);
  if (c) return c;
  if (x->epoch != y->epoch) return x->epoch < y->epoch ? -1 : 1;
  return memcmp(x->creator, y->creator, KR_NODE_LEN);
}

static int cmp_subject(const void *a, const void *b)
{
  return memcmp((*(const kr_op *const *)a)->subject, (*(const kr_op *const *)b)->subject,
                KR_SUBJECT_LEN);
}

/* KR_EMALFORMED when two records of ops share (subject, epoch, creator),
 * or a record (14) names a subject a registering record of them makes.
 * types: each op's type, a withheld one's too (it carries its type and
 * subject, so the second rule holds for it; its epoch and creator are
 * gone). */
static int records_check(const kr_op *ops, const uint8_t *types, uint32_t n)
{
  const kr_op **ix;
  uint32_t k = 0, nreg = 0;
  int rc = 0;

  for (uint32_t i = 0; i < n; i++) {
    k += KR_OP_IS_RECORD(types[i]);
    nreg += types[i] == KR_OP_REGREC;
  }
  if (k < 2) return 0;
  if (!(ix = malloc(sizeof *ix * k))) return KR_ENOMEM;
  /* a record (present or withheld) on a subject this change registers */
  if (nreg) {
    uint32_t m = 0;
    for (uint32_t i = 0; i < n; i++)
      if (KR_OP_IS_RECORD(types[i])) ix[m++] = &ops[i];
    qsort(ix, m, sizeof *ix, cmp_subject);
    for (uint32_t i = 0, j; i < m && !rc; i = j) {
      int reg = 0, rec = 0;
      for (j = i; j < m && !memcmp(ix[j]->subject, ix[i]->subject, KR_SUBJECT_LEN); j++) {
        uint8_t t = types[ix[j] - ops];
        reg += t == KR_OP_REGREC;
        rec += t == KR_OP_RECORD;
      }
      if (reg && rec) rc = KR_EMALFORMED;
    }
  }
  /* two records of one (subject, epoch, creator), of those present */
  k = 0;
  for (uint32_t i = 0; i < n; i++)
    if (KR_OP_IS_RECORD(ops[i].type)) ix[k++] = &ops[i];
  qsort(ix, k, sizeof *ix, cmp_record);
  for (uint32_t i = 1; i < k && !rc; i++)
    if (cmp_record(&ix[i - 1], &ix[i]) == 0) rc = KR_EMALFORMED;
  free(ix);
  return rc;
}

static int header_encode(const uint8_t origin[static KR_NODE_LEN], uint64_t seq, kr_hlc hlc,
                         const uint8_t nonce[static KR_NONCE_LEN], const kr_nodes *t,
                         const uint8_t root[static KR_HASH_LEN], kr_buf *out)
{
  msgpack_packer pk;
  int e = 0;

  msgpack_packer_init(&pk, out, kr_buf_mp_write);
  e |= msgpack_pack_array(&pk, 7);
  e |= msgpack_pack_uint8(&pk, KR_CHANGE_VERSION);
  e |= msgpack_pack_bin(&pk, KR_NODE_LEN);
  e |= msgpack_pack_bin_body(&pk, origin, KR_NODE_LEN);
  e |= msgpack_pack_uint64(&pk, seq);
  e |= msgpack_pack_uint64(&pk, hlc);
  e |= msgpack_pack_bin(&pk, KR_NONCE_LEN);
  e |= msgpack_pack_bin_body(&pk, nonce, KR_NONCE_LEN);
  e |= msgpack_pack_array(&pk, t->n);
  for (uint32_t i = 0; i < t->n; i++) {
    e |= msgpack_pack_bin(&pk, KR_NODE_LEN);
    e |= msgpack_pack_bin_body(&pk, t->id[i], KR_NODE_LEN);
  }
  e |= msgpack_pack_bin(&pk, KR_HASH_LEN);
  e |= msgpack_pack_bin_body(&pk, root, KR_HASH_LEN);
  return e ? KR_ETOOBIG : 0;
}

int kr_change_assemble(const uint8_t *header, size_t header_len,
                       const uint8_t sig[static KR_SIG_LEN], uint32_t nops,
                       const uint8_t *const *op_bytes, const size_t *op_len,
                       const uint8_t (*subjects)[KR_SUBJECT_LEN], const uint8_t *types,
                       const uint8_t (*hashes)[KR_HASH_LEN], kr_buf *out)
{
  msgpack_packer pk;
  size_t start = out->len;
  int e = 0;

  msgpack_packer_init(&pk, out, kr_buf_mp_write);
  e |= msgpack_pack_array(&pk, 3);
  e |= msgpack_pack_bin(&pk, header_len);
  e |= msgpack_pack_bin_body(&pk, header, header_len);
  e |= msgpack_pack_bin(&pk, KR_SIG_LEN);
  e |= msgpack_pack_bin_body(&pk, sig, KR_SIG_LEN);
  e |= msgpack_pack_array(&pk, nops);
  for (uint32_t i = 0; i < nops && !e; i++) {
    if (op_bytes[i]) {
      e |= msgpack_pack_bin(&pk, op_len[i]);
      e |= msgpack_pack_bin_body(&pk, op_bytes[i], op_len[i]);
    } else if (!subjects || !hashes || !types || !WITHHOLDABLE(types[i])) {
      e = 1;
    } else {
      e |= msgpack_pack_array(&pk, 4);
      e |= msgpack_pack_uint8(&pk, KR_OP_REDACTED);
      e |= msgpack_pack_uint8(&pk, types[i]);
      e |= msgpack_pack_bin(&pk, KR_SUBJECT_LEN);
      e |= msgpack_pack_bin_body(&pk, subjects[i], KR_SUBJECT_LEN);
      e |= msgpack_pack_bin(&pk, KR_HASH_LEN);
      e |= msgpack_pack_bin_body(&pk, hashes[i], KR_HASH_LEN);
    }
  }
  if (!e && out->len - start > KR_CHANGE_MAX)
    e = 1;
  if (e) {
    out->len = start;
    return KR_ETOOBIG;
  }
  return 0;
}

/* What kr_change_decode of the bytes just built would give (kr_change_build_view). */
static int make_view(const uint8_t *origin, uint64_t seq, kr_hlc hlc, const uint8_t *nonce,
                     const kr_nodes *t, const uint8_t root[KR_HASH_LEN],
                     const uint8_t sig[KR_SIG_LEN], const kr_buf *hdr, const kr_buf *opbuf,
                     const kr_op *ops, uint32_t nops, const size_t *offs, const size_t *lens,
                     const uint8_t (*hashes)[KR_HASH_LEN], kr_change *v)
{
  size_t memsz = hdr->len + opbuf->len + (size_t)(t->n + 1) * KR_NODE_LEN + 64 +
                 (size_t)nops * (KR_HASH_LEN + 1 + sizeof(uint8_t *) + sizeof(size_t)) +
                 8 * 16;                    /* alignment */
  arena a;
  uint8_t *h, *o, *b, *ty;
  uint8_t (*ids)[KR_NODE_LEN];
  int rc;

  memset(v, 0, sizeof *v);
  if (!(v->mem = malloc(memsz))) return KR_ENOMEM;
  a.p = v->mem;
  a.end = a.p + memsz;
  h = arena_get(&a, hdr->len);
  b = arena_get(&a, opbuf->len ? opbuf->len : 1);
  o = arena_get(&a, KR_NODE_LEN);
  ids = arena_get(&a, (size_t)t->n * KR_NODE_LEN + 1);
  v->hashes = arena_get(&a, (size_t)nops * KR_HASH_LEN);
  v->types = ty = arena_get(&a, nops);
  v->op_bytes = arena_get(&a, sizeof *v->op_bytes * nops);
  v->op_len = arena_get(&a, sizeof *v->op_len * nops);
  if (!h || !b || !o || !ids || !v->hashes || !ty || !v->op_bytes || !v->op_len) {
    kr_change_free(v);
    return KR_ENOMEM;
  }
  memcpy(h, hdr->data, hdr->len);
  memcpy(b, opbuf->data, opbuf->len);
  memcpy(o, origin, KR_NODE_LEN);
  if (t->n) memcpy(ids, t->id, (size_t)t->n * KR_NODE_LEN);
  memcpy(v->hashes, hashes, (size_t)nops * KR_HASH_LEN);
  for (uint32_t i = 0; i < nops; i++) {
    ty[i] = ops[i].type;
    v->op_bytes[i] = b + offs[i];
    v->op_len[i] = lens[i];
  }
  if ((rc = records_check(ops, ty, nops))) {
    kr_change_free(v);
    return rc == KR_EMALFORMED ? KR_EINVAL : rc;
  }
  memcpy(v->origin, origin, KR_NODE_LEN);
  v->seq = seq;
  v->hlc = hlc;
  memcpy(v->nonce, nonce, KR_NONCE_LEN);
  v->nodes.origin = o;
  v->nodes.id = (const uint8_t (*)[KR_NODE_LEN])ids;
  v->nodes.n = t->n;
  memcpy(v->root, root, KR_HASH_LEN);
  v->nops = nops;
  memcpy(v->sig, sig, KR_SIG_LEN);
  v->ops = (kr_op *)ops;
  v->header = h;
  v->header_len = hdr->len;
  return 0;
}

static int build(const uint8_t sk[static KR_SK_LEN], uint64_t seq, kr_hlc hlc,
                 const uint8_t *nonce, const kr_op *ops, uint32_t nops, kr_buf *out,
                 kr_change *view)
{
  kr_buf opbuf, hdr;
  uint8_t (*hashes)[KR_HASH_LEN] = NULL;
  size_t *offs = NULL, *lens = NULL;
  const uint8_t **ptrs = NULL;
  uint8_t sig[KR_SIG_LEN], root[KR_HASH_LEN], fresh[KR_NONCE_LEN];
  const uint8_t *origin = sk + 32; /* libsodium keeps the public key there */
  uint8_t (*ids)[KR_NODE_LEN] = NULL;
  kr_nodes t = {origin, NULL, 0};
  int rc = KR_ENOMEM;

  kr_buf_init(&opbuf, KR_CHANGE_MAX);
  kr_buf_init(&hdr, KR_CHANGE_MAX);
  if (nops == 0 || nops > KR_CHANGE_MAX_OPS || seq == 0)
    return KR_EINVAL;
  if (!nonce) {
    randombytes_buf(fresh, sizeof fresh);
    nonce = fresh;
  }
  hashes = malloc(sizeof *hashes * nops);
  offs = malloc(sizeof *offs * nops);
  lens = malloc(sizeof *lens * nops);
  ptrs = malloc(sizeof *ptrs * nops);
  if (!hashes || !offs || !lens || !ptrs)
    goto out;
  if ((rc = kr_nodes_collect(origin, ops, nops, &ids, &t.n))) goto out;
  t.id = (const uint8_t (*)[KR_NODE_LEN])ids;
  for (uint32_t i = 0, nreg = 0; i < nops; i++) {
    offs[i] = opbuf.len;
    /* ops 1-4 travel only inside a group: the decoder refuses them here */
    if (KR_OP_IS_SEALED(ops[i].type)) { rc = KR_EINVAL; goto out; }
    if (ops[i].type == KR_OP_REGREC) {       /* the subject the decoder derives */
      uint8_t d[KR_SUBJECT_LEN];
      kr_subject_derive(origin, nonce, nreg++, d);
      if (memcmp(d, ops[i].subject, KR_SUBJECT_LEN)) { rc = KR_EINVAL; goto out; }
    }
    if ((rc = kr_op_encode(&ops[i], &t, &opbuf)))
      goto out;
    lens[i] = opbuf.len - offs[i];
  }
  {
    crypto_generichash_state h;
    root_init(&h);
    for (uint32_t i = 0; i < nops; i++) {
      ptrs[i] = opbuf.data + offs[i];
      crypto_generichash(hashes[i], KR_HASH_LEN, ptrs[i], lens[i], NULL, 0);
      root_add(&h, ops[i].type, ops[i].subject, hashes[i]);
    }
    crypto_generichash_final(&h, root, KR_HASH_LEN);
  }
  if ((rc = header_encode(origin, seq, hlc, nonce, &t, root, &hdr)))
    goto out;
  crypto_sign_detached(sig, NULL, hdr.data, hdr.len, sk);
  if (view && (rc = make_view(origin, seq, hlc, nonce, &t, root, sig, &hdr, &opbuf, ops, nops,
                              offs, lens, (const uint8_t (*)[KR_HASH_LEN])hashes, view)))
    goto out;
  rc = kr_change_assemble(hdr.data, hdr.len, sig, nops, ptrs, lens, NULL, NULL, NULL, out);
  if (rc && view) kr_change_free(view);
out:
  free(ids);
  free(hashes);
  free(offs);
  free(lens);
  free(ptrs);
  kr_buf_free(&opbuf);
  kr_buf_free(&hdr);
  return rc;
}

int kr_change_build(const uint8_t sk[static KR_SK_LEN], uint64_t seq, kr_hlc hlc,
                    const uint8_t *nonce, const kr_op *ops, uint32_t nops, kr_buf *out)
{
  return build(sk, seq, hlc, nonce, ops, nops, out, NULL);
}

int kr_change_build_view(const uint8_t sk[static KR_SK_LEN], uint64_t seq, kr_hlc hlc,
                         const uint8_t *nonce, const kr_op *ops, uint32_t nops, kr_buf *out,
                         kr_change *view)
{
  return build(sk, seq, hlc, nonce, ops, nops, out, view);
}

/* The header's fields; the node table as *tab (the first of its k
 * bin(32) elements in the header bytes, 34 bytes apart), checked:
 * ascending, no repeats, not the origin, at most KR_NODES_MAX. */
static int header_read(kr_mp *r, uint8_t origin[KR_NODE_LEN], uint64_t *seq, kr_hlc *hlc,
                       uint8_t nonce[KR_NONCE_LEN], const uint8_t **tab, uint32_t *k,
                       uint8_t root[KR_HASH_LEN])
{
  uint32_t n;
  uint64_t v;
  int rc;

  if ((rc = kr_mp_array(r, &n))) return rc;
  if (n != 7) return n == 5 || n == 6 ? KR_EUNKNOWN : KR_EMALFORMED;  /* older formats */
  if ((rc = kr_mp_uint(r, &v))) return rc;
  if (v != KR_CHANGE_VERSION) return KR_EUNKNOWN;
  if ((rc = kr_mp_bin_fixed(r, origin, KR_NODE_LEN))) return rc;
  if ((rc = kr_mp_uint(r, seq))) return rc;
  if (*seq == 0 || *seq > (uint64_t)INT64_MAX) return KR_EMALFORMED;  /* stored signed, as hlc */
  if ((rc = kr_mp_uint(r, hlc))) return rc;
  if (*hlc > (kr_hlc)INT64_MAX) return KR_EMALFORMED;   /* stored as a signed 64-bit number */
  if ((rc = kr_mp_bin_fixed(r, nonce, KR_NONCE_LEN))) return rc;
  if ((rc = kr_mp_array(r, k))) return rc;
  if (*k > KR_NODES_MAX) return KR_ETOOBIG;
  *tab = r->p;
  for (uint32_t i = 0; i < *k; i++) {
    const uint8_t *b;
    uint32_t blen;
    if ((rc = kr_mp_bin(r, &b, &blen))) return rc;
    if (blen != KR_NODE_LEN || b != *tab + (size_t)i * (KR_NODE_LEN + 2) + 2) return KR_EMALFORMED;
    if (memcmp(b, origin, KR_NODE_LEN) == 0) return KR_EMALFORMED;
    if (i && memcmp(b - KR_NODE_LEN - 2, b, KR_NODE_LEN) >= 0) return KR_ENONCANON;
  }
  if ((rc = kr_mp_bin_fixed(r, root, KR_HASH_LEN))) return rc;
  return kr_mp_left(r) ? KR_EMALFORMED : 0;
}

/* Copy k table entries from tab (header_read) into ids. */
static void table_copy(const uint8_t *tab, uint32_t k, uint8_t (*ids)[KR_NODE_LEN])
{
  for (uint32_t i = 0; i < k; i++)
    memcpy(ids[i], tab + (size_t)i * (KR_NODE_LEN + 2) + 2, KR_NODE_LEN);
}

int kr_change_header_ctx(const uint8_t *header, size_t len, uint8_t nonce[static KR_NONCE_LEN],
                         kr_nodes *t, void **mem)
{
  kr_mp r;
  uint8_t root[KR_HASH_LEN];
  const uint8_t *tab;
  uint32_t k;
  uint64_t seq;
  kr_hlc hlc;
  uint8_t *m;

  *mem = NULL;
  memset(t, 0, sizeof *t);
  if (!(m = malloc(KR_NODE_LEN))) return KR_ENOMEM;
  kr_mp_init(&r, header, len);
  if (header_read(&r, m, &seq, &hlc, nonce, &tab, &k, root)) {
    free(m);
    return KR_EMALFORMED;
  }
  {
    uint8_t *q = realloc(m, KR_NODE_LEN * ((size_t)k + 1));
    if (!q) { free(m); return KR_ENOMEM; }
    m = q;
  }
  table_copy(tab, k, (uint8_t (*)[KR_NODE_LEN])(m + KR_NODE_LEN));
  t->origin = m;
  t->id = (const uint8_t (*)[KR_NODE_LEN])(m + KR_NODE_LEN);
  t->n = k;
  *mem = m;
  return 0;
}

int kr_change_decode(const uint8_t *buf, size_t len, size_t max, kr_change *out)
{
  kr_change c;
  kr_mp r, ops;
  arena a;
  uint32_t n, k;
  const uint8_t *tab;
  crypto_generichash_state rh;
  const uint8_t *b;
  uint32_t blen;
  size_t memsz;
  uint32_t nreg = 0;                     /* registering records so far */
  uint8_t subject[KR_SUBJECT_LEN];
  int rc;

  memset(out, 0, sizeof *out);
  memset(&c, 0, sizeof c);
  if (max > KR_CHANGE_MAX) max = KR_CHANGE_MAX;
  if (len > max) return KR_ETOOBIG;

  kr_mp_init(&r, buf, len);
  if ((rc = kr_mp_array(&r, &n))) return rc;
  if (n != 3) return KR_EMALFORMED;
  if ((rc = kr_mp_bin(&r, &b, &blen))) return rc;
  {
    kr_mp h;
    kr_mp_init(&h, b, blen);
    if ((rc = header_read(&h, c.origin, &c.seq, &c.hlc, c.nonce, &tab, &k, c.root))) return rc;
  }
  if ((rc = kr_mp_bin_fixed(&r, c.sig, KR_SIG_LEN))) return rc;
  if (crypto_sign_verify_detached(c.sig, b, blen, c.origin) != 0) return KR_EBADSIG;
  if ((rc = kr_mp_array(&r, &n))) return rc;
  if (n == 0) return KR_EMALFORMED;
  if (n > KR_CHANGE_MAX_OPS) return KR_ETOOBIG;
  c.nops = n;
  ops = r;

  /* Everything decoded fits in this: copies of the header, the ops, their
   * strings and tags are each no larger than the input, plus fixed-size
   * tables and alignment per op. */
  memsz = 4 * len + 512 +
          (size_t)n * (sizeof(kr_op) + KR_HASH_LEN + sizeof(uint8_t *) + sizeof(size_t) + 256);
  if (!(c.mem = malloc(memsz))) return KR_ENOMEM;
  a.p = c.mem;
  a.end = a.p + memsz;
  {
    uint8_t *h = arena_get(&a, blen ? blen : 1);
    if (!h) { rc = KR_ENOMEM; goto fail; }
    memcpy(h, b, blen);
    c.header = h;
    c.header_len = blen;
  }
  {
    /* the origin too in the change's own memory: a copied kr_change keeps
     * a table that points at what it owns */
    uint8_t *o = arena_get(&a, KR_NODE_LEN);
    uint8_t (*ids)[KR_NODE_LEN] = arena_get(&a, (size_t)k * KR_NODE_LEN + 1);
    if (!o || !ids) { rc = KR_ENOMEM; goto fail; }
    memcpy(o, c.origin, KR_NODE_LEN);
    table_copy(tab, k, ids);
    c.nodes.origin = o;
    c.nodes.id = (const uint8_t (*)[KR_NODE_LEN])ids;
    c.nodes.n = k;
  }
  c.ops = arena_get(&a, sizeof *c.ops * n);
  c.op_bytes = arena_get(&a, sizeof *c.op_bytes * n);
  c.op_len = arena_get(&a, sizeof *c.op_len * n);
  c.hashes = arena_get(&a, (size_t)n * KR_HASH_LEN);
  c.types = arena_get(&a, n);
  if (!c.ops || !c.op_bytes || !c.op_len || !c.hashes || !c.types) { rc = KR_ENOMEM; goto fail; }

  /* First every op's hash (a withheld op carries it) and the root: a
   * changed op is refused as such before anything in it is read. */
  root_init(&rh);
  for (uint32_t i = 0; i < n; i++) {
    memset(&c.ops[i], 0, sizeof c.ops[i]);
    c.op_bytes[i] = NULL;
    c.op_len[i] = 0;
    if (kr_mp_left(&r) && (*r.p & 0xf0) == 0x90) {
      /* A redaction: [0, type, subject, hash]. */
      uint32_t m;
      uint64_t t;
      if ((rc = kr_mp_array(&r, &m))) goto fail;
      if (m != 4) { rc = KR_EMALFORMED; goto fail; }
      if ((rc = kr_mp_uint(&r, &t))) goto fail;
      if (t != KR_OP_REDACTED) { rc = KR_EMALFORMED; goto fail; }
      if ((rc = kr_mp_uint(&r, &t))) goto fail;
      if (!WITHHOLDABLE(t)) { rc = KR_EMALFORMED; goto fail; }
      c.types[i] = (uint8_t)t;
      if ((rc = kr_mp_bin_fixed(&r, c.ops[i].subject, KR_SUBJECT_LEN))) goto fail;
      if ((rc = kr_mp_bin_fixed(&r, c.hashes[i], KR_HASH_LEN))) goto fail;
      c.ops[i].type = KR_OP_REDACTED;
      if (t == KR_OP_REGREC) {             /* its subject is the derived one */
        uint8_t d[KR_SUBJECT_LEN];
        kr_subject_derive(c.origin, c.nonce, nreg++, d);
        if (sodium_memcmp(d, c.ops[i].subject, KR_SUBJECT_LEN)) { rc = KR_EMALFORMED; goto fail; }
      }
      root_add(&rh, c.types[i], c.ops[i].subject, c.hashes[i]);
      continue;
    }
    if ((rc = kr_mp_bin(&r, &b, &blen))) goto fail;
    if ((rc = op_head(b, blen, &c.types[i], c.ops[i].subject))) goto fail;
    if (c.types[i] == KR_OP_REGREC) kr_subject_derive(c.origin, c.nonce, nreg++, c.ops[i].subject);
    crypto_generichash(c.hashes[i], KR_HASH_LEN, b, blen, NULL, 0);
    root_add(&rh, c.types[i], c.ops[i].subject, c.hashes[i]);
    c.op_bytes[i] = b;                     /* present (copied below) */
  }
  if (kr_mp_left(&r)) { rc = KR_EMALFORMED; goto fail; }
  {
    uint8_t root[KR_HASH_LEN];
    crypto_generichash_final(&rh, root, KR_HASH_LEN);
    if (sodium_memcmp(root, c.root, KR_HASH_LEN) != 0) { rc = KR_EBADHASH; goto fail; }
  }
  /* Then each present op. */
  r = ops;
  for (uint32_t i = 0; i < n; i++) {
    uint8_t *copy;
    if (!c.op_bytes[i]) {                  /* withheld: read in the first pass */
      uint32_t m;
      uint64_t t;
      uint8_t skip[KR_HASH_LEN];
      if (kr_mp_array(&r, &m) || kr_mp_uint(&r, &t) || kr_mp_uint(&r, &t) ||
          kr_mp_bin_fixed(&r, skip, KR_SUBJECT_LEN) || kr_mp_bin_fixed(&r, skip, KR_HASH_LEN)) {
        rc = KR_EMALFORMED;
        goto fail;
      }
      continue;
    }
    if ((rc = kr_mp_bin(&r, &b, &blen))) goto fail;
    if (!(copy = arena_get(&a, blen ? blen : 1))) { rc = KR_ENOMEM; goto fail; }
    memcpy(copy, b, blen);
    c.op_bytes[i] = copy;
    c.op_len[i] = blen;
    memcpy(subject, c.ops[i].subject, KR_SUBJECT_LEN);
    if ((rc = op_decode(copy, blen, &c.ops[i], &a, &c.nodes))) goto fail;
    /* a registering record's subject: derived in the first pass */
    if (c.ops[i].type == KR_OP_REGREC) memcpy(c.ops[i].subject, subject, KR_SUBJECT_LEN);
  }
  if ((rc = records_check(c.ops, c.types, n))) goto fail;
  *out = c;
  return 0;
fail:
  free(c.mem);
  return rc;
}

void kr_change_free(kr_change *c)
{
  free(c->mem);
  memset(c, 0, sizeof *c);
}

/* ---- groups: a volunteer's ops of one change, sealed ---------------------- */

int kr_group_encode(const kr_op *ops, uint32_t n, const kr_nodes *t, kr_buf *out)
{
  size_t start = out->len;
  int rc = 0;

  if (n == 0 || n > KR_GROUP_MAX_OPS) return KR_EINVAL;
  for (uint32_t i = 0; i < n && !rc; i++) {
    if (memcmp(ops[i].subject, ops[0].subject, KR_SUBJECT_LEN)) rc = KR_EINVAL;
    else rc = kr_op_encode_inner(&ops[i], t, out);
  }
  if (rc) out->len = start;
  return rc;
}

int kr_group_decode(const uint8_t *plain, size_t len, const uint8_t subject[static KR_SUBJECT_LEN],
                    const kr_nodes *t, kr_op **ops, uint32_t *nops, void **mem)
{
  kr_mp r;
  arena a;
  uint32_t n;
  size_t memsz;
  int rc;

  *ops = NULL;
  *nops = 0;
  *mem = NULL;
  if (len > KR_CHANGE_MAX) return KR_ETOOBIG;
  if (len == 0) return KR_EMALFORMED;                 /* no ops */
  /* every inner op takes at least 2 bytes (a code and a value or nil) */
  n = (uint32_t)(len / 2 + 1 < KR_GROUP_MAX_OPS ? len / 2 + 1 : KR_GROUP_MAX_OPS);
  memsz = 2 * len + 64 + (size_t)n * (sizeof(kr_op) + 48);
  if (!(*mem = malloc(memsz))) return KR_ENOMEM;
  a.p = *mem;
  a.end = a.p + memsz;
  if (!(*ops = arena_get(&a, sizeof **ops * n))) { rc = KR_ENOMEM; goto fail; }
  kr_mp_init(&r, plain, len);
  for (n = 0; kr_mp_left(&r); n++) {
    if (n == KR_GROUP_MAX_OPS) { rc = KR_ETOOBIG; goto fail; }
    if ((rc = inner_read(&r, &(*ops)[n], &a, subject, t))) goto fail;
  }
  *nops = n;
  return 0;
fail:
  free(*mem);
  *mem = NULL;
  *ops = NULL;
  return rc;
}

#define GROUP_DOMAIN "kring-group-2"
#define GROUP_AD_LEN (sizeof GROUP_DOMAIN - 1 + KR_NETWORK_LEN + KR_NODE_LEN + 8 + 4 + \
                      KR_SUBJECT_LEN + 8 + KR_NODE_LEN)
#define NB crypto_aead_xchacha20poly1305_ietf_NPUBBYTES
#define TAGB crypto_aead_xchacha20poly1305_ietf_ABYTES

static void put_be(uint8_t *p, uint64_t v, int n)
{
  for (int i = 0; i < n; i++) p[i] = (uint8_t)(v >> (8 * (n - 1 - i)));
}

void kr_aead_nonce(const uint8_t nonce[static KR_NONCE_LEN], uint32_t place, uint32_t slot,
                   uint8_t out[static 24])
{
  memcpy(out, nonce, KR_NONCE_LEN);
  put_be(out + KR_NONCE_LEN, place, 4);
  put_be(out + KR_NONCE_LEN + 4, slot, 4);
}

/* "kring-group-2" || network || origin || seq (8) || place (4) || subject ||
 * epoch (8) || creator: binds a box to one place of one change. */
static void group_ad(uint8_t ad[GROUP_AD_LEN], const uint8_t *network, const uint8_t *origin,
                     uint64_t seq, uint32_t place, const kr_op *g)
{
  uint8_t *p = ad;
  memcpy(p, GROUP_DOMAIN, sizeof GROUP_DOMAIN - 1); p += sizeof GROUP_DOMAIN - 1;
  memcpy(p, network, KR_NETWORK_LEN); p += KR_NETWORK_LEN;
  memcpy(p, origin, KR_NODE_LEN); p += KR_NODE_LEN;
  put_be(p, seq, 8); p += 8;
  put_be(p, place, 4); p += 4;
  memcpy(p, g->subject, KR_SUBJECT_LEN); p += KR_SUBJECT_LEN;
  put_be(p, g->epoch, 8); p += 8;
  memcpy(p, g->creator, KR_NODE_LEN);
}

int kr_group_seal(const uint8_t key[static KR_KEY_LEN], const uint8_t network[static KR_NETWORK_LEN],
                  const uint8_t origin[static KR_NODE_LEN], uint64_t seq,
                  const uint8_t nonce[static KR_NONCE_LEN], uint32_t place, kr_op *g,
                  const uint8_t *plain, size_t plen, kr_buf *box)
{
  uint8_t ad[GROUP_AD_LEN], npub[NB];
  size_t start = box->len;
  unsigned long long clen;
  int rc;

  if (plen > KR_CHANGE_MAX) return KR_ETOOBIG;
  if ((rc = kr_buf_reserve(box, plen + TAGB))) return rc;
  group_ad(ad, network, origin, seq, place, g);
  kr_aead_nonce(nonce, place, 0, npub);
  crypto_aead_xchacha20poly1305_ietf_encrypt(box->data + start, &clen, plain, plen, ad,
                                             sizeof ad, NULL, npub, key);
  box->len = start + (size_t)clen;
  return 0;
}

int kr_group_open(const uint8_t key[static KR_KEY_LEN], const uint8_t network[static KR_NETWORK_LEN],
                  const uint8_t origin[static KR_NODE_LEN], uint64_t seq,
                  const uint8_t nonce[static KR_NONCE_LEN], uint32_t place, const kr_op *g,
                  kr_buf *plain)
{
  uint8_t ad[GROUP_AD_LEN], npub[NB];
  unsigned long long mlen;
  int rc;

  if (g->type != KR_OP_GROUP || g->box_len < KR_BOX_MIN) return KR_EMALFORMED;
  plain->len = 0;
  if ((rc = kr_buf_reserve(plain, g->box_len))) return rc;
  group_ad(ad, network, origin, seq, place, g);
  kr_aead_nonce(nonce, place, 0, npub);
  if (crypto_aead_xchacha20poly1305_ietf_decrypt(plain->data, &mlen, NULL, g->box, g->box_len,
                                                 ad, sizeof ad, npub, key) != 0)
    return KR_EBADSIG;
  plain->len = (size_t)mlen;
  return 0;
}

#define PAIR_DOMAIN "kring-pair-1"
#define KEY_DOMAIN "kring-key-3"
#define KEY_AD_LEN (sizeof KEY_DOMAIN - 1 + KR_NETWORK_LEN + KR_NODE_LEN + KR_SUBJECT_LEN + 8 + \
                    KR_NODE_LEN + KR_NODE_LEN)

int kr_pair_key(const uint8_t xsk[static 32], const uint8_t xpk_self[static 32],
                const uint8_t xpk_other[static 32], uint8_t pair[static KR_KEY_LEN])
{
  uint8_t q[crypto_scalarmult_BYTES];
  const uint8_t *lo = xpk_self, *hi = xpk_other;
  crypto_generichash_state h;

  /* a low-order point gives no secret: refused */
  if (crypto_scalarmult(q, xsk, xpk_other) != 0) return KR_EINVAL;
  if (memcmp(lo, hi, 32) > 0) {
    lo = xpk_other;
    hi = xpk_self;
  }
  crypto_generichash_init(&h, NULL, 0, KR_KEY_LEN);
  crypto_generichash_update(&h, (const uint8_t *)PAIR_DOMAIN, sizeof PAIR_DOMAIN - 1);
  crypto_generichash_update(&h, q, sizeof q);
  crypto_generichash_update(&h, lo, 32);
  crypto_generichash_update(&h, hi, 32);
  crypto_generichash_final(&h, pair, KR_KEY_LEN);
  sodium_memzero(q, sizeof q);
  sodium_memzero(&h, sizeof h);
  return 0;
}

int kr_pair_key_ed(const uint8_t sk[static KR_SK_LEN], const uint8_t other[static KR_NODE_LEN],
                   uint8_t pair[static KR_KEY_LEN])
{
  uint8_t xsk[32], xpk[32], xother[32];
  int rc = KR_EINVAL;

  if (crypto_sign_ed25519_sk_to_curve25519(xsk, sk) == 0 &&
      crypto_sign_ed25519_pk_to_curve25519(xpk, sk + 32) == 0 &&
      crypto_sign_ed25519_pk_to_curve25519(xother, other) == 0)
    rc = kr_pair_key(xsk, xpk, xother, pair);
  sodium_memzero(xsk, sizeof xsk);
  return rc;
}

/* "kring-key-3" || network || origin || subject || epoch (8) || creator ||
 * reader: what a key op says, bound to the node that says it. */
static void key_ad(uint8_t ad[KEY_AD_LEN], const uint8_t *network, const uint8_t *origin,
                   const kr_op *k)
{
  uint8_t *p = ad;
  memcpy(p, KEY_DOMAIN, sizeof KEY_DOMAIN - 1); p += sizeof KEY_DOMAIN - 1;
  memcpy(p, network, KR_NETWORK_LEN); p += KR_NETWORK_LEN;
  memcpy(p, origin, KR_NODE_LEN); p += KR_NODE_LEN;
  memcpy(p, k->subject, KR_SUBJECT_LEN); p += KR_SUBJECT_LEN;
  put_be(p, k->epoch, 8); p += 8;
  memcpy(p, k->creator, KR_NODE_LEN); p += KR_NODE_LEN;
  memcpy(p, k->member, KR_NODE_LEN);
}

int kr_key_seal(const uint8_t pair[static KR_KEY_LEN], const uint8_t network[static KR_NETWORK_LEN],
                const uint8_t origin[static KR_NODE_LEN], const uint8_t nonce[static KR_NONCE_LEN],
                uint32_t place, const kr_op *k, const uint8_t key[static KR_KEY_LEN],
                uint8_t box[static KR_SEALED_KEY_LEN])
{
  uint8_t ad[KEY_AD_LEN], npub[NB];
  unsigned long long clen;

  key_ad(ad, network, origin, k);
  kr_aead_nonce(nonce, place, k->slot, npub);
  crypto_aead_xchacha20poly1305_ietf_encrypt(box, &clen, key, KR_KEY_LEN, ad, sizeof ad, NULL,
                                             npub, pair);
  return clen == KR_SEALED_KEY_LEN ? 0 : KR_EINVAL;
}

int kr_key_open(const uint8_t pair[static KR_KEY_LEN], const uint8_t network[static KR_NETWORK_LEN],
                const uint8_t origin[static KR_NODE_LEN], const uint8_t nonce[static KR_NONCE_LEN],
                uint32_t place, const kr_op *k, uint8_t key[static KR_KEY_LEN])
{
  uint8_t ad[KEY_AD_LEN], npub[NB];
  unsigned long long mlen;

  if (k->type != KR_OP_KEY || k->box_len != KR_SEALED_KEY_LEN) return KR_EMALFORMED;
  key_ad(ad, network, origin, k);
  kr_aead_nonce(nonce, place, k->slot, npub);
  if (crypto_aead_xchacha20poly1305_ietf_decrypt(key, &mlen, NULL, k->box, KR_SEALED_KEY_LEN, ad,
                                                 sizeof ad, npub, pair) != 0 ||
      mlen != KR_KEY_LEN) {
    sodium_memzero(key, KR_KEY_LEN);
    return KR_EBADSIG;
  }
  return 0;
}
