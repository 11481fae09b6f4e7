/* op: field tables, validity rules and the canonical encoding of one op. */
#include <stdlib.h>
#include <string.h>

#include <msgpack.h>
#include <sodium.h>

#include "crdt/err.h"
#include "crdt/op.h"

static const struct {
  int code;
  const char *name;
} fields[] = {
#define KR_FIELD_ROW(id, code, name) {code, name},
  KR_FIELD_MAP(KR_FIELD_ROW)
#undef KR_FIELD_ROW
};

const char *kr_field_name(int code)
{
  for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++)
    if (fields[i].code == code)
      return fields[i].name;
  return NULL;
}

int kr_field_code(const char *name)
{
  static const struct { const char *alias; int code; } aliases[] = {
    {"skill", KR_F_SKILLS}, {"language", KR_F_LANGUAGES},
    {"organisation", KR_F_ORGANISATIONS}, {"placement", KR_F_PLACEMENTS},
    {"note", KR_F_NOTES}, {"birth-year", KR_F_BIRTH_YEAR},
  };
  for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++)
    if (strcmp(fields[i].name, name) == 0)
      return fields[i].code;
  for (size_t i = 0; i < sizeof aliases / sizeof aliases[0]; i++)
    if (strcmp(aliases[i].alias, name) == 0)
      return aliases[i].code;
  return -1;
}

int kr_field_is_single(int code) { return code >= 1 && code <= 31 && kr_field_name(code); }
int kr_field_is_set(int code) { return code >= 32 && code <= 63 && kr_field_name(code); }

static const char *const methods[] = {"unspecified", "paper", "verbal", "digital"};

const char *kr_method_name(int m)
{
  return m >= 0 && m <= KR_METHOD_DIGITAL ? methods[m] : NULL;
}

int kr_method_code(const char *name)
{
  for (int i = 0; i <= KR_METHOD_DIGITAL; i++)
    if (strcmp(methods[i], name) == 0)
      return i;
  return -1;
}

/* The code point of the valid UTF-8 sequence at p (before end) into *cp:
 * its length in bytes, or 0 when no valid sequence starts at p (overlong,
 * surrogate, beyond U+10FFFF, cut short). The rules of kr_utf8_ok. */
size_t kr_utf8_next(const unsigned char *p, const unsigned char *end, uint32_t *cp)
{
  unsigned c = *p;
  size_t n;
  uint32_t v;

  if (c < 0x80) { *cp = c; return 1; }
  if (c >= 0xc2 && c <= 0xdf) { n = 1; v = c & 0x1f; }
  else if (c >= 0xe0 && c <= 0xef) { n = 2; v = c & 0x0f; }
  else if (c >= 0xf0 && c <= 0xf4) { n = 3; v = c & 0x07; }
  else return 0;
  if ((size_t)(end - p) < n + 1) return 0;
  for (size_t i = 1; i <= n; i++) {
    if ((p[i] & 0xc0) != 0x80) return 0;
    v = (v << 6) | (p[i] & 0x3f);
  }
  if ((n == 2 && v < 0x800) || (n == 3 && (v < 0x10000 || v > 0x10ffff)) ||
      (v >= 0xd800 && v <= 0xdfff))
    return 0;
  *cp = v;
  return n + 1;
}

int kr_utf8_ok(const char *s, size_t len)
{
  const unsigned char *p = (const unsigned char *)s, *end = p + len;

  while (p < end) {
    uint32_t c;
    size_t n = kr_utf8_next(p, end, &c);
    /* no C0 control but tab and newline, no DEL, no C1 control */
    if (!n || (c < 0x20 && c != '\t' && c != '\n') || (c >= 0x7f && c <= 0x9f)) return 0;
    p += n;
  }
  return 1;
}

static int text_ok(const char *s, size_t max)
{
  size_t n;
  if (!s)
    return 0;
  n = strlen(s);
  return n <= max && kr_utf8_ok(s, n);
}

int kr_purpose_name_ok(const char *s)
{
  size_t n;
  if (!s || !(n = strlen(s)) || n > KR_PURPOSE_MAX)
    return 0;
  for (size_t i = 0; i < n; i++)
    if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '-'))
      return 0;
  return 1;
}

static int date_ok(const char *s)
{
  static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  int y, m, d;

  if (strlen(s) != 10 || s[4] != '-' || s[7] != '-')
    return 0;
  for (int i = 0; i < 10; i++)
    if (i != 4 && i != 7 && (s[i] < '0' || s[i] > '9'))
      return 0;
  y = (s[0] - '0') * 1000 + (s[1] - '0') * 100 + (s[2] - '0') * 10 + (s[3] - '0');
  m = (s[5] - '0') * 10 + (s[6] - '0');
  d = (s[8] - '0') * 10 + (s[9] - '0');
  if (y < 1900 || m < 1 || m > 12 || d < 1 || d > mdays[m - 1])
    return 0;
  if (m == 2 && d == 29 && !((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
    return 0;
  return 1;
}

int kr_kind_valid(const char *kind)
{
  static const char *const kinds[] = {"foodbank", "buurtteam", "mzo", "centre", "care", "other"};
  for (size_t i = 0; kind && i < sizeof kinds / sizeof kinds[0]; i++)
    if (strcmp(kind, kinds[i]) == 0)
      return 1;
  return 0;
}

static int org_ok(const char *s)
{
  return text_ok(s, KR_ORG_NAME_MAX) && s[0] && !strchr(s, '\n') && !strchr(s, '\t');
}

int kr_op_check(const kr_op *op)
{
  if (op->ntags > KR_TAGS_MAX || (op->ntags && !op->tags))
    return KR_EINVAL;
  switch (op->type) {
  case KR_OP_SET:
    if (!kr_field_is_single(op->field)) return KR_EUNKNOWN;
    if (op->value && !text_ok(op->value, KR_VALUE_MAX)) return KR_EMALFORMED;
    return op->ntags ? KR_EINVAL : 0;
  case KR_OP_ADD:
  case KR_OP_REMOVE:
    if (!kr_field_is_set(op->field)) return KR_EUNKNOWN;
    if (!text_ok(op->value, KR_VALUE_MAX) || !op->value[0]) return KR_EMALFORMED;
    return op->type == KR_OP_ADD && op->ntags ? KR_EINVAL : 0;
  case KR_OP_GRANT:
  case KR_OP_WITHDRAW:
    if (!kr_purpose_name_ok(op->purpose)) return KR_EMALFORMED;
    if (op->method > KR_METHOD_DIGITAL) return KR_EUNKNOWN;
    if (!text_ok(op->text_version, 64)) return KR_EMALFORMED;
    if (op->type == KR_OP_GRANT) {
      if (!op->until || (op->until[0] && !date_ok(op->until))) return KR_EMALFORMED;
    } else if (op->ntags) {
      return KR_EINVAL;
    }
    return 0;
  case KR_OP_ERASE:
    if (!text_ok(op->value, KR_REASON_MAX)) return KR_EMALFORMED;
    return op->ntags ? KR_EINVAL : 0;
  case KR_OP_FOUND:
  case KR_OP_ADMIT:
    if (!org_ok(op->org) || !kr_kind_valid(op->kind)) return KR_EMALFORMED;
    return op->ntags ? KR_EINVAL : 0;
  case KR_OP_EXPEL:
    if (!text_ok(op->value, KR_REASON_MAX) || !op->value[0]) return KR_EMALFORMED;
    return op->ntags ? KR_EINVAL : 0;
  case KR_OP_GROUP:
    if (op->epoch == 0 || op->epoch > KR_EPOCH_MAX || !op->box || op->box_len < KR_BOX_MIN)
      return KR_EMALFORMED;
    return op->ntags ? KR_EINVAL : 0;
  case KR_OP_KEY:
    if (op->epoch == 0 || op->epoch > KR_EPOCH_MAX || !op->box ||
        op->box_len != KR_SEALED_KEY_LEN)
      return KR_EMALFORMED;
    return op->ntags ? KR_EINVAL : 0;
  case KR_OP_REGISTER:
    return op->ntags ? KR_EINVAL : 0;
  case KR_OP_RECORD:
  case KR_OP_REGREC:
    if (op->epoch == 0 || op->epoch > KR_EPOCH_MAX || op->ntags) return KR_EMALFORMED;
    if (op->box ? op->box_len < KR_BOX_MIN : op->box_len != 0) return KR_EMALFORMED;
    if (op->nkeys > KR_NODES_MAX + 1 || (op->nkeys && !op->keys)) return KR_EMALFORMED;
    for (uint32_t k = 0; k < op->nkeys; k++)
      if (!op->keys[k].sealed) return KR_EMALFORMED;
    /* a record says something: a box or a key (a registration may be bare) */
    return op->type == KR_OP_RECORD && !op->box && !op->nkeys ? KR_EMALFORMED : 0;
  case KR_OP_PURPOSE: {
    uint8_t key[KR_SUBJECT_LEN];
    if (!kr_purpose_name_ok(op->purpose) || !text_ok(op->value, KR_PURPOSE_DESC_MAX) ||
        !op->value[0] || !text_ok(op->text_version, KR_TEXT_VERSION_MAX))
      return KR_EMALFORMED;
    /* one name, one key: else two ops of one purpose could fold apart */
    kr_purpose_key(op->purpose, key);
    if (sodium_memcmp(key, op->subject, KR_SUBJECT_LEN) != 0) return KR_EMALFORMED;
    return op->ntags ? KR_EINVAL : 0;
  }
  default:
    return KR_EUNKNOWN;
  }
}

int64_t kr_nodes_no(const kr_nodes *t, const uint8_t id[static KR_NODE_LEN])
{
  uint32_t lo = 0, hi;

  if (!t) return -1;
  if (t->origin && memcmp(t->origin, id, KR_NODE_LEN) == 0) return 0;
  hi = t->n;
  while (lo < hi) {                        /* ascending: binary search */
    uint32_t mid = lo + (hi - lo) / 2;
    int c = memcmp(t->id[mid], id, KR_NODE_LEN);
    if (c == 0) return (int64_t)mid + 1;
    if (c < 0) lo = mid + 1; else hi = mid;
  }
  return -1;
}

const uint8_t *kr_nodes_id(const kr_nodes *t, uint64_t no)
{
  if (!t) return NULL;
  if (no == 0) return t->origin;
  return no <= t->n ? t->id[no - 1] : NULL;
}

static int cmp_node(const void *a, const void *b) { return memcmp(a, b, KR_NODE_LEN); }

int kr_nodes_collect(const uint8_t origin[static KR_NODE_LEN], const kr_op *ops, uint32_t nops,
                     uint8_t (**ids)[KR_NODE_LEN], uint32_t *n)
{
  uint8_t (*v)[KR_NODE_LEN];
  size_t k = 0, m = 0, all = 1;

  *ids = NULL;
  *n = 0;
  for (uint32_t i = 0; i < nops; i++)
    all += KR_OP_IS_RECORD(ops[i].type) ? 1 + (size_t)ops[i].nkeys : 1;
  if (!(v = malloc(all * KR_NODE_LEN))) return KR_ENOMEM;
  for (uint32_t i = 0; i < nops; i++) {
    const kr_op *op = &ops[i];
    if (KR_OP_IS_RECORD(op->type)) {
      memcpy(v[k++], op->creator, KR_NODE_LEN);
      for (uint32_t j = 0; j < op->nkeys; j++) memcpy(v[k++], op->keys[j].reader, KR_NODE_LEN);
    }
    if (op->type == KR_OP_WITHDRAW && !op->recipient_all)
      memcpy(v[k++], op->recipient, KR_NODE_LEN);
  }
  if (k) qsort(v, k, KR_NODE_LEN, cmp_node);
  for (size_t i = 0; i < k; i++)
    if (memcmp(v[i], origin, KR_NODE_LEN) && (!m || memcmp(v[m - 1], v[i], KR_NODE_LEN)))
      memmove(v[m++], v[i], KR_NODE_LEN);
  if (m > KR_NODES_MAX) {
    free(v);
    return KR_ETOOBIG;
  }
  *ids = v;
  *n = (uint32_t)m;
  return 0;
}

/* inner: the sealed form inside a group, without the subject. */
/* An op of a change (never a sealed type: those travel inside a group,
 * inner_encode below). */
static int op_encode(const kr_op *op, const kr_nodes *t, kr_buf *out)
{
  int64_t no;
  msgpack_packer pk;
  int rc = 0;
  size_t start = out->len;

  if (kr_op_check(op) != 0 || KR_OP_IS_SEALED(op->type)) return KR_EINVAL;
  msgpack_packer_init(&pk, out, kr_buf_mp_write);

#define P(call) do { if ((call) != 0) { rc = KR_ETOOBIG; goto out; } } while (0)
#define PSTR(s) do { size_t l_ = strlen(s); P(msgpack_pack_str(&pk, l_)); \
                     P(msgpack_pack_str_body(&pk, s, l_)); } while (0)
#define PBIN(b, n) do { P(msgpack_pack_bin(&pk, n)); P(msgpack_pack_bin_body(&pk, b, n)); } while (0)
#define PNO(id) do { if ((no = kr_nodes_no(t, id)) < 0) { rc = KR_EINVAL; goto out; } \
                     P(msgpack_pack_uint32(&pk, (uint32_t)no)); } while (0)
  switch (op->type) {
  case KR_OP_WITHDRAW:
    P(msgpack_pack_array(&pk, 6));
    P(msgpack_pack_uint8(&pk, op->type));
    PBIN(op->subject, KR_SUBJECT_LEN);
    PSTR(op->purpose);
    if (op->recipient_all) P(msgpack_pack_nil(&pk)); else PNO(op->recipient);
    P(msgpack_pack_uint8(&pk, op->method));
    PSTR(op->text_version);
    break;
  case KR_OP_ERASE:
    P(msgpack_pack_array(&pk, 3));
    P(msgpack_pack_uint8(&pk, op->type));
    PBIN(op->subject, KR_SUBJECT_LEN);
    PSTR(op->value);
    break;
  case KR_OP_FOUND:
    P(msgpack_pack_array(&pk, 4));
    P(msgpack_pack_uint8(&pk, op->type));
    PBIN(op->subject, KR_SUBJECT_LEN);
    PSTR(op->org);
    PSTR(op->kind);
    break;
  case KR_OP_ADMIT:
    P(msgpack_pack_array(&pk, 7));
    P(msgpack_pack_uint8(&pk, op->type));
    PBIN(op->subject, KR_SUBJECT_LEN);
    PBIN(op->member, KR_NODE_LEN);
    PSTR(op->org);
    PSTR(op->kind);
    PBIN(op->invite_pk, KR_NODE_LEN);
    PBIN(op->proof, 64);
    break;
  case KR_OP_EXPEL:
    P(msgpack_pack_array(&pk, 5));
    P(msgpack_pack_uint8(&pk, op->type));
    PBIN(op->subject, KR_SUBJECT_LEN);
    PBIN(op->member, KR_NODE_LEN);
    P(msgpack_pack_uint64(&pk, op->after_seq));
    PSTR(op->value);
    break;
  case KR_OP_RECORD:
  case KR_OP_REGREC: {
    int64_t prev = -1;
    if (op->type == KR_OP_RECORD) {
      P(msgpack_pack_array(&pk, 6));
      P(msgpack_pack_uint8(&pk, op->type));
      PBIN(op->subject, KR_SUBJECT_LEN);
    } else {                               /* the subject is derived */
      P(msgpack_pack_array(&pk, 5));
      P(msgpack_pack_uint8(&pk, op->type));
    }
    P(msgpack_pack_uint64(&pk, op->epoch));
    PNO(op->creator);
    if (op->box) PBIN(op->box, op->box_len); else P(msgpack_pack_nil(&pk));
    P(msgpack_pack_array(&pk, 2 * op->nkeys));
    for (uint32_t k = 0; k < op->nkeys; k++) {
      PNO(op->keys[k].reader);
      if (no <= prev) { rc = KR_EINVAL; goto out; }   /* readers ascending */
      prev = no;
      PBIN(op->keys[k].sealed, KR_SEALED_KEY_LEN);
    }
    break;
  }
  case KR_OP_PURPOSE:
    P(msgpack_pack_array(&pk, 5));
    P(msgpack_pack_uint8(&pk, op->type));
    PBIN(op->subject, KR_SUBJECT_LEN);
    PSTR(op->purpose);
    PSTR(op->value);
    PSTR(op->text_version);
    break;
  default:
    rc = KR_EINVAL;
  }
#undef P
#undef PSTR
#undef PBIN
#undef PNO
out:
  if (rc)
    out->len = start;
  return rc;
}

/* Inside a group (docs/protocol.md, "Inner ops"): a one-byte code that
 * names the op and its field, then the op's fields, no array. */
static int inner_encode(const kr_op *op, const kr_nodes *t, kr_buf *out)
{
  msgpack_packer pk;
  int64_t no;
  int rc = 0;
  size_t start = out->len;
  uint8_t code;

  if (kr_op_check(op) != 0 || !KR_OP_IS_SEALED(op->type)) return KR_EINVAL;
  switch (op->type) {
  case KR_OP_SET: code = op->field; break;
  case KR_OP_ADD: code = op->field; break;
  case KR_OP_REMOVE: code = (uint8_t)(op->field + KR_INNER_REMOVE); break;
  default: code = KR_INNER_GRANT; break;
  }
  msgpack_packer_init(&pk, out, kr_buf_mp_write);
#define P(call) do { if ((call) != 0) { rc = KR_ETOOBIG; goto out; } } while (0)
#define PSTR(s) do { size_t l_ = strlen(s); P(msgpack_pack_str(&pk, l_)); \
                     P(msgpack_pack_str_body(&pk, s, l_)); } while (0)
#define PBIN(b, n) do { P(msgpack_pack_bin(&pk, n)); P(msgpack_pack_bin_body(&pk, b, n)); } while (0)
  P(msgpack_pack_uint8(&pk, code));
  switch (op->type) {
  case KR_OP_SET:
    if (op->value) PSTR(op->value); else P(msgpack_pack_nil(&pk));
    break;
  case KR_OP_ADD:
    PSTR(op->value);
    break;
  case KR_OP_REMOVE:
    PSTR(op->value);
    P(msgpack_pack_array(&pk, op->ntags));
    for (uint32_t i = 0; i < op->ntags; i++) PBIN(op->tags + (size_t)i * KR_TAG_LEN, KR_TAG_LEN);
    break;
  default:                                 /* grant */
    PSTR(op->purpose);
    /* by number where the change's table has it (canonical), else its id */
    if (op->recipient_all) P(msgpack_pack_nil(&pk));
    else if ((no = kr_nodes_no(t, op->recipient)) >= 0) P(msgpack_pack_uint32(&pk, (uint32_t)no));
    else PBIN(op->recipient, KR_NODE_LEN);
    P(msgpack_pack_uint8(&pk, op->method));
    PSTR(op->text_version);
    PSTR(op->until);
    P(msgpack_pack_array(&pk, op->ntags));
    for (uint32_t i = 0; i < op->ntags; i++) PBIN(op->tags + (size_t)i * KR_TAG_LEN, KR_TAG_LEN);
    break;
  }
#undef P
#undef PSTR
#undef PBIN
out:
  if (rc) out->len = start;
  return rc;
}

int kr_op_encode(const kr_op *op, const kr_nodes *t, kr_buf *out) { return op_encode(op, t, out); }
int kr_op_encode_inner(const kr_op *op, const kr_nodes *t, kr_buf *out)
{
  return inner_encode(op, t, out);
}

void kr_purpose_key(const char *name, uint8_t key[static KR_SUBJECT_LEN])
{
  crypto_generichash(key, KR_SUBJECT_LEN, (const unsigned char *)name, strlen(name), NULL, 0);
}

static const char admit_domain[] = "kring-admit-v2";

/* "kring-admit-v2" || node || length of kind (1) || kind || org: what an
 * admission's proof signs. msg holds at least ADMIT_MSG_MAX bytes; the
 * length, or 0 when kind or org do not fit. */
#define ADMIT_MSG_MAX (sizeof admit_domain - 1 + KR_NODE_LEN + 1 + 255 + 255)
static size_t admit_msg(uint8_t *msg, const uint8_t node[KR_NODE_LEN], const char *kind,
                        const char *org)
{
  size_t kl = kind ? strlen(kind) : 256, ol = org ? strlen(org) : 256, at = 0;
  if (kl > 255 || ol > 255) return 0;
  memcpy(msg, admit_domain, sizeof admit_domain - 1);
  at = sizeof admit_domain - 1;
  memcpy(msg + at, node, KR_NODE_LEN);
  at += KR_NODE_LEN;
  msg[at++] = (uint8_t)kl;
  memcpy(msg + at, kind, kl);
  at += kl;
  memcpy(msg + at, org, ol);
  return at + ol;
}

void kr_invite_key_id(const uint8_t invite_pk[static KR_NODE_LEN], uint8_t id[static KR_SUBJECT_LEN])
{
  crypto_generichash(id, KR_SUBJECT_LEN, invite_pk, KR_NODE_LEN, NULL, 0);
}

void kr_admit_proof(const uint8_t invite_sk[static 64], const uint8_t node[static KR_NODE_LEN],
                    const char *kind, const char *org, uint8_t proof[static 64])
{
  uint8_t msg[ADMIT_MSG_MAX];
  size_t len = admit_msg(msg, node, kind, org);
  if (len) crypto_sign_detached(proof, NULL, msg, len, invite_sk);
  else memset(proof, 0, 64);                      /* verifies nothing */
}

int kr_admit_check(const kr_op *op)
{
  uint8_t msg[ADMIT_MSG_MAX], id[KR_SUBJECT_LEN];
  size_t len;
  kr_invite_key_id(op->invite_pk, id);
  if (sodium_memcmp(id, op->subject, KR_SUBJECT_LEN) != 0) return KR_EBADSIG;
  if (!(len = admit_msg(msg, op->member, op->kind, op->org))) return KR_EBADSIG;
  return crypto_sign_verify_detached(op->proof, msg, len, op->invite_pk) == 0 ? 0 : KR_EBADSIG;
}

void kr_subject_derive(const uint8_t registrar[static KR_NODE_LEN], const uint8_t nonce[static 16],
                       uint32_t r, uint8_t subject[static KR_SUBJECT_LEN])
{
  uint8_t in[KR_NODE_LEN + 16 + 4];
  memcpy(in, registrar, KR_NODE_LEN);
  memcpy(in + KR_NODE_LEN, nonce, 16);
  for (int i = 0; i < 4; i++) in[KR_NODE_LEN + 16 + i] = (uint8_t)(r >> (24 - 8 * i));
  crypto_generichash(subject, KR_SUBJECT_LEN, in, sizeof in, NULL, 0);
}

/* The fields every part of a record shares. */
static void record_part(const kr_op *r, uint8_t type, kr_op *p)
{
  memset(p, 0, sizeof *p);
  p->type = type;
  memcpy(p->subject, r->subject, KR_SUBJECT_LEN);
  p->epoch = r->epoch;
  memcpy(p->creator, r->creator, KR_NODE_LEN);
}

int kr_record_group(const kr_op *r, kr_op *g)
{
  if (!KR_OP_IS_RECORD(r->type) || !r->box) return 0;
  record_part(r, KR_OP_GROUP, g);
  g->box = r->box;
  g->box_len = r->box_len;
  g->slot = 0;
  return 1;
}

void kr_record_key(const kr_op *r, uint32_t k, kr_op *key)
{
  record_part(r, KR_OP_KEY, key);
  memcpy(key->member, r->keys[k].reader, KR_NODE_LEN);
  key->box = r->keys[k].sealed;
  key->box_len = KR_SEALED_KEY_LEN;
  key->slot = 1 + k;
}

void kr_op_tag(const uint8_t origin[static KR_NODE_LEN], uint64_t seq,
               uint32_t idx, uint8_t tag[static KR_TAG_LEN])
{
  uint8_t in[KR_NODE_LEN + 12];

  memcpy(in, origin, KR_NODE_LEN);
  for (int i = 0; i < 8; i++)
    in[KR_NODE_LEN + i] = (uint8_t)(seq >> (56 - 8 * i));
  for (int i = 0; i < 4; i++)
    in[KR_NODE_LEN + 8 + i] = (uint8_t)(idx >> (24 - 8 * i));
  crypto_generichash(tag, KR_TAG_LEN, in, sizeof in, NULL, 0);
}
