/* model: the naive reference (see model.h). Quadratic on purpose. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "crdt/digest.h"
#include "crdt/merge.h"
#include "model.h"
#include "node/internal.h"
#include "node/validate.h"

/* ---- keys ------------------------------------------------------------------ */

void model_keys_add(model_keys *ks, const model_key *k)
{
  for (size_t i = 0; i < ks->n; i++)
    if (!memcmp(&ks->k[i], k, sizeof *k)) return;
  ks->k = realloc(ks->k, (ks->n + 1) * sizeof *ks->k);
  ks->k[ks->n++] = *k;
}

void model_sealed_keys(model_keys *ks, const kr_change *changes, size_t n,
                       const uint8_t network[static KR_NETWORK_LEN],
                       const uint8_t sk[static KR_SK_LEN])
{
  for (size_t c = 0; c < n; c++)
    for (uint32_t i = 0; i < changes[c].nops; i++) {
      const kr_op *r = &changes[c].ops[i];
      for (uint32_t e = 0; KR_OP_IS_RECORD(r->type) && e < r->nkeys; e++) {
        kr_op part, *o = &part;
        model_key k;
        uint8_t pair[KR_KEY_LEN];
        kr_record_key(r, e, &part);
        if (memcmp(o->member, sk + 32, KR_NODE_LEN) || kr_pair_key_ed(sk, changes[c].origin, pair) ||
            kr_key_open(pair, network, changes[c].origin, changes[c].nonce, i, o, k.key))
          continue;
        memcpy(k.subject, o->subject, KR_SUBJECT_LEN);
        k.epoch = o->epoch;
        memcpy(k.creator, o->creator, KR_NODE_LEN);
        model_keys_add(ks, &k);
      }
    }
}

void model_keys_rows(model_keys *ks, sqlite3_stmt *s)
{
  while (sqlite3_step(s) == SQLITE_ROW) {
    model_key k;
    if (sqlite3_column_bytes(s, 0) != KR_SUBJECT_LEN || sqlite3_column_bytes(s, 2) != KR_NODE_LEN ||
        sqlite3_column_bytes(s, 3) != KR_KEY_LEN)
      continue;
    memcpy(k.subject, sqlite3_column_blob(s, 0), KR_SUBJECT_LEN);
    k.epoch = (uint64_t)sqlite3_column_int64(s, 1);
    memcpy(k.creator, sqlite3_column_blob(s, 2), KR_NODE_LEN);
    memcpy(k.key, sqlite3_column_blob(s, 3), KR_KEY_LEN);
    model_keys_add(ks, &k);
  }
}

void model_node_keys(model_keys *ks, kr_node *n)
{
  sqlite3_stmt *s;
  if (sqlite3_prepare_v2(n->db, "SELECT s.id, k.en, c.id, k.key FROM vkeys k JOIN subjects s"
                                " ON s.n=k.subj JOIN nodes c ON c.n=k.creator", -1, &s, NULL) != SQLITE_OK)
    return;
  model_keys_rows(ks, s);
  sqlite3_finalize(s);
}

void model_keys_free(model_keys *ks)
{
  free(ks->k);
  ks->k = NULL;
  ks->n = 0;
}

/* ---- the ops, groups opened -------------------------------------------------- */

typedef struct {
  const kr_change *c;
  uint32_t idx;          /* the stamp index: KR_OP_IDX(place, j) */
  kr_op op;              /* on its subject; strings in the change or in mem */
  int grp;               /* of a group (opened) */
  int dead;              /* of a group not yet found to count (model_new only) */
} mop;

struct model {
  const kr_change **ch;  /* the distinct changes */
  size_t nch;
  mop *ops;              /* every clear op but keys and groups, and every op of every
                            group opened */
  size_t nops;
  void **mem;
  size_t nmem;
  size_t sealed, bad;
  mop *dropped;          /* the first op of each group found not to count (explain) */
  size_t ndropped;
};

/* (hlc, origin, index) */
static int later(const mop *a, const mop *b)
{
  int k;
  if (a->c->hlc != b->c->hlc) return a->c->hlc > b->c->hlc;
  k = memcmp(a->c->origin, b->c->origin, 32);
  if (k) return k > 0;
  return a->idx > b->idx;
}

/* SQLite BINARY order: bytes, then the shorter first. */
static int bincmp(const void *a, size_t al, const void *b, size_t bl)
{
  int k = memcmp(a, b, al < bl ? al : bl);
  if (k) return k;
  return al < bl ? -1 : al > bl;
}

static int strcmp_bin(const char *a, const char *b) { return bincmp(a, strlen(a), b, strlen(b)); }

static void tag_of(const mop *m, uint8_t t[16]) { kr_op_tag(m->c->origin, m->c->seq, m->idx, t); }

static int cmp16(const void *a, const void *b) { return memcmp(a, b, 16); }
static int cmp32(const void *a, const void *b) { return memcmp(a, b, 32); }

static void push(model *m, const kr_change *c, uint32_t idx, const kr_op *op)
{
  m->ops = realloc(m->ops, (m->nops + 1) * sizeof *m->ops);
  m->ops[m->nops].c = c;
  m->ops[m->nops].idx = idx;
  m->ops[m->nops].op = *op;
  m->ops[m->nops].grp = 0;
  m->ops[m->nops].dead = 0;
  m->nops++;
}

static int erased_in(const kr_change **ch, size_t nch, const uint8_t *subject)
{
  for (size_t k = 0; k < nch; k++)
    for (uint32_t i = 0; i < ch[k]->nops; i++)
      if (ch[k]->ops[i].type == KR_OP_ERASE && !memcmp(ch[k]->ops[i].subject, subject, 16)) return 1;
  return 0;
}

/* Open group g (op place of c) with the first key that opens it: its ops,
 * or none when no key does or they break the field rules. */
static void open_group(model *m, const kr_change *c, uint32_t place, const kr_op *g,
                       const uint8_t *network, const model_keys *keys)
{
  kr_buf plain;
  kr_op *ops;
  uint32_t n;
  void *mem;
  int opened = 0;

  kr_buf_init(&plain, KR_CHANGE_MAX);
  for (size_t k = 0; k < keys->n && !opened; k++)
    if (keys->k[k].epoch == g->epoch && !memcmp(keys->k[k].subject, g->subject, 16) &&
        !memcmp(keys->k[k].creator, g->creator, 32))
      opened = kr_group_open(keys->k[k].key, network, c->origin, c->seq, c->nonce, place, g,
                              &plain) == 0;
  if (!opened) {
    m->sealed += !erased_in(m->ch, m->nch, g->subject);
  } else if (kr_group_decode(plain.data, plain.len, g->subject, &c->nodes, &ops, &n, &mem)) {
    m->bad++;
  } else {
    time_t secs = (time_t)(kr_hlc_ms(c->hlc) / 1000);
    struct tm tm;
    int ok = 1;
    gmtime_r(&secs, &tm);
    for (uint32_t j = 0; j < n && ok; j++)
      ok = KR_OP_IS_SEALED(ops[j].type) && kr_op_values_ok(&ops[j], tm.tm_year + 1900, NULL) == 0;
    if (ok) {
      for (uint32_t j = 0; j < n; j++) {
        push(m, c, KR_OP_IDX(place, j), &ops[j]);
        m->ops[m->nops - 1].grp = m->ops[m->nops - 1].dead = 1;
      }
      m->mem = realloc(m->mem, (m->nmem + 1) * sizeof *m->mem);
      m->mem[m->nmem++] = mem;
    } else {
      m->bad++;
      free(mem);
    }
  }
  kr_buf_free(&plain);
}

static void decide_groups(model *m);

model *model_new(const kr_change *changes, size_t n, const uint8_t network[static KR_NETWORK_LEN],
                 const model_keys *keys)
{
  model *m = calloc(1, sizeof *m);

  /* Every distinct (origin, seq). */
  for (size_t k = 0; k < n; k++) {
    int dup = 0;
    for (size_t j = 0; j < m->nch && !dup; j++)
      dup = m->ch[j]->seq == changes[k].seq && !memcmp(m->ch[j]->origin, changes[k].origin, 32);
    if (dup) continue;
    m->ch = realloc(m->ch, (m->nch + 1) * sizeof *m->ch);
    m->ch[m->nch++] = &changes[k];
  }
  for (size_t k = 0; k < m->nch; k++) {
    const kr_change *c = m->ch[k];
    for (uint32_t i = 0; i < c->nops; i++) {
      const kr_op *o = &c->ops[i];
      kr_op part;
      if (o->type == KR_OP_REDACTED) continue;
      if (KR_OP_IS_RECORD(o->type)) {
        /* a registration, keys (the model takes keys from model_keys), a box */
        if (o->type == KR_OP_REGREC) {
          memset(&part, 0, sizeof part);
          part.type = KR_OP_REGISTER;
          memcpy(part.subject, o->subject, KR_SUBJECT_LEN);
          push(m, c, KR_OP_IDX(i, 0), &part);
        }
        if (kr_record_group(o, &part)) open_group(m, c, i, &part, network, keys);
        continue;
      }
      push(m, c, KR_OP_IDX(i, 0), o);
      /* a withdrawal travels in clear, and counts like a group: only when
       * its origin read the volunteer at its stamp */
      if (o->type == KR_OP_WITHDRAW) m->ops[m->nops - 1].grp = m->ops[m->nops - 1].dead = 1;
    }
  }
  decide_groups(m);
  return m;
}

void model_free(model *m)
{
  if (!m) return;
  for (size_t i = 0; i < m->nmem; i++) free(m->mem[i]);
  free(m->mem);
  free(m->ops);
  free(m->dropped);
  free(m->ch);
  free(m);
}

size_t model_sealed(const model *m) { return m->sealed; }
size_t model_bad(const model *m) { return m->bad; }

/* ---- membership -------------------------------------------------------------- */

/* An admission is void when another admission of the same invite names
 * another node and has an earlier stamp: one invite admits one node. */
static int admission_in_force(const model *m, size_t k)
{
  for (size_t j = 0; j < m->nops; j++)
    if (m->ops[j].op.type == KR_OP_ADMIT && !memcmp(m->ops[j].op.subject, m->ops[k].op.subject, 16) &&
        memcmp(m->ops[j].op.member, m->ops[k].op.member, 32) && later(&m->ops[k], &m->ops[j]))
      return 0;
  return 1;
}

/* The admission of node (its FOUND, or its earliest admission in force),
 * and the smallest cutoff of its removals. */
static const mop *admission(const model *m, const uint8_t *node, uint64_t *cutoff)
{
  const mop *adm = NULL;
  *cutoff = UINT64_MAX;
  for (size_t k = 0; k < m->nops; k++) {
    const kr_op *op = &m->ops[k].op;
    if (op->type == KR_OP_FOUND && !memcmp(m->ops[k].c->origin, node, 32) &&
        (!adm || later(adm, &m->ops[k])))
      adm = &m->ops[k];
    if (op->type == KR_OP_ADMIT && !memcmp(op->member, node, 32) && admission_in_force(m, k) &&
        (!adm || later(adm, &m->ops[k])))
      adm = &m->ops[k];
    if (op->type == KR_OP_EXPEL && !memcmp(op->member, node, 32) && op->after_seq < *cutoff)
      *cutoff = op->after_seq;
  }
  return adm;
}

int model_member(const model *m, const uint8_t node[static KR_NODE_LEN])
{
  uint64_t cutoff;
  return admission(m, node, &cutoff) != NULL && cutoff == UINT64_MAX;
}

/* ---- one volunteer ------------------------------------------------------------ */

static const mop *erasure(const model *m, const uint8_t *subject)
{
  const mop *erase = NULL;
  for (size_t k = 0; k < m->nops; k++)
    if (m->ops[k].op.type == KR_OP_ERASE && !memcmp(m->ops[k].op.subject, subject, 16) &&
        (!erase || later(erase, &m->ops[k])))
      erase = &m->ops[k];
  return erase;
}

int model_erased(const model *m, const uint8_t subject[static KR_SUBJECT_LEN])
{
  return erasure(m, subject) != NULL;
}

#define SAME_REG(o, key)                                                              \
  (((o)->type == KR_OP_GRANT || (o)->type == KR_OP_WITHDRAW) &&                       \
   !memcmp((o)->subject, (key)->subject, 16) && !strcmp((o)->purpose, (key)->purpose) && \
   (o)->recipient_all == (key)->recipient_all &&                                      \
   ((o)->recipient_all || !memcmp((o)->recipient, (key)->recipient, 32)))

/* The grant in force of the register key names: the latest grant that
 * observed every withdrawal of the register, or NULL. *withdrawn: the
 * register has a withdrawal. */
static const mop *in_force_before(const model *m, const kr_op *key, kr_hlc before, int *withdrawn)
{
  const mop *best = NULL;
  *withdrawn = 0;
  for (size_t g = 0; g < m->nops; g++) {
    int ok = 1;
    if (!SAME_REG(&m->ops[g].op, key) || m->ops[g].dead || m->ops[g].c->hlc >= before) continue;
    if (m->ops[g].op.type != KR_OP_GRANT) {
      *withdrawn = 1;
      continue;
    }
    for (size_t w = 0; w < m->nops && ok; w++) {
      uint8_t wt[16];
      int seen = 0;
      if (!SAME_REG(&m->ops[w].op, key) || m->ops[w].op.type != KR_OP_WITHDRAW ||
          m->ops[w].dead || m->ops[w].c->hlc >= before)
        continue;
      tag_of(&m->ops[w], wt);
      for (uint32_t x = 0; x < m->ops[g].op.ntags && !seen; x++)
        seen = !memcmp(m->ops[g].op.tags + 16 * x, wt, 16);
      ok = seen;
    }
    if (ok && (!best || later(&m->ops[g], best))) best = &m->ops[g];
  }
  return best;
}

static const mop *in_force(const model *m, const kr_op *key, int *withdrawn)
{
  return in_force_before(m, key, UINT64_MAX, withdrawn);
}

/* The register's state on day, from its grant in force (docs/crdt.md),
 * with the entries stamped before before. */
static int state_before(const model *m, const kr_op *key, kr_hlc before, const char *day)
{
  int withdrawn;
  const mop *g = in_force_before(m, key, before, &withdrawn);
  if (!g) return withdrawn ? KR_CONSENT_WITHDRAWN : KR_CONSENT_NONE;
  if (g->op.until && g->op.until[0] && strcmp(g->op.until, day) < 0) return KR_CONSENT_EXPIRED;
  return KR_CONSENT_GRANTED;
}

static int state_of(const model *m, const kr_op *key, const char *day)
{
  return state_before(m, key, UINT64_MAX, day);
}

/* The registrar of subject: the origin of its earliest registration (the
 * decoder derives a registering record's subject from its origin), or
 * NULL. */
static const uint8_t *registrar_of(const model *m, const uint8_t *subject)
{
  const mop *reg = NULL;
  for (size_t k = 0; k < m->nops; k++)
    if (m->ops[k].op.type == KR_OP_REGISTER && !memcmp(m->ops[k].op.subject, subject, 16) &&
        (!reg || later(reg, &m->ops[k])))
      reg = &m->ops[k];
  return reg ? reg->c->origin : NULL;
}

/* Only a reader's groups count (docs/crdt.md, "Who writes"): a group of V
 * has effect only if its origin is V's registrar, or a consent naming it
 * (or all) was in force just before the group's stamp, as V's registers
 * stood with the entries (of groups that count) stamped before it, read on
 * the group's day (UTC). Decided group by group in stamp order. */
typedef struct {
  const kr_change *c;
  uint32_t place;
  const uint8_t *subject;
} mgroup;

static int by_stamp(const void *a, const void *b)
{
  const mgroup *x = a, *y = b;
  int k;
  if (x->c->hlc != y->c->hlc) return x->c->hlc < y->c->hlc ? -1 : 1;
  if ((k = memcmp(x->c->origin, y->c->origin, 32))) return k;
  return x->place < y->place ? -1 : x->place > y->place;
}

static void decide_groups(model *m)
{
  mgroup *gs = NULL;
  size_t ng = 0, keep = 0;

  for (size_t k = 0; k < m->nops; k++) {
    int seen = 0;
    if (!m->ops[k].grp) continue;
    for (size_t j = 0; j < ng && !seen; j++)
      seen = gs[j].c == m->ops[k].c && gs[j].place == m->ops[k].idx >> 16;
    if (seen) continue;
    gs = realloc(gs, (ng + 1) * sizeof *gs);
    gs[ng].c = m->ops[k].c;
    gs[ng].place = m->ops[k].idx >> 16;
    gs[ng].subject = m->ops[k].op.subject;
    ng++;
  }
  qsort(gs, ng, sizeof *gs, by_stamp);
  for (size_t g = 0; g < ng; g++) {
    const uint8_t *reg = registrar_of(m, gs[g].subject), *origin = gs[g].c->origin;
    kr_hlc before = gs[g].c->hlc;
    int counts = reg && !memcmp(reg, origin, 32);
    if (!counts) {
      time_t secs = (time_t)(kr_hlc_ms(before) / 1000);
      struct tm tm;
      char day[11];
      gmtime_r(&secs, &tm);
      strftime(day, sizeof day, "%Y-%m-%d", &tm);
      for (size_t k = 0; k < m->nops && !counts; k++) {
        const mop *o = &m->ops[k];
        if ((o->op.type != KR_OP_GRANT && o->op.type != KR_OP_WITHDRAW) || o->dead ||
            o->c->hlc >= before || memcmp(o->op.subject, gs[g].subject, 16) ||
            (!o->op.recipient_all && memcmp(o->op.recipient, origin, 32)))
          continue;
        counts = state_before(m, &o->op, before, day) == KR_CONSENT_GRANTED;
      }
    }
    if (counts)
      for (size_t k = 0; k < m->nops; k++)
        if (m->ops[k].c == gs[g].c && m->ops[k].grp && m->ops[k].idx >> 16 == gs[g].place)
          m->ops[k].dead = 0;
    if (!counts)
      for (size_t k = 0; k < m->nops; k++)
        if (m->ops[k].c == gs[g].c && m->ops[k].grp && m->ops[k].idx >> 16 == gs[g].place) {
          m->dropped = realloc(m->dropped, (m->ndropped + 1) * sizeof *m->dropped);
          m->dropped[m->ndropped++] = m->ops[k];
          break;
        }
  }
  for (size_t k = 0; k < m->nops; k++)
    if (!m->ops[k].dead) m->ops[keep++] = m->ops[k];
  m->nops = keep;
  free(gs);
}

int model_consent(const model *m, const uint8_t subject[static KR_SUBJECT_LEN],
                  const char *purpose, const uint8_t *recipient, const char *day)
{
  kr_op key;
  if (erasure(m, subject)) return KR_CONSENT_NONE;
  memset(&key, 0, sizeof key);
  memcpy(key.subject, subject, 16);
  key.purpose = purpose;
  key.recipient_all = recipient == NULL;
  if (recipient) memcpy(key.recipient, recipient, 32);
  return state_of(m, &key, day);
}

int model_reads(const model *m, const uint8_t subject[static KR_SUBJECT_LEN],
                const uint8_t node[static KR_NODE_LEN], const char *day)
{
  const uint8_t *reg;
  if (erasure(m, subject) || !model_member(m, node)) return 0;
  /* the registrar: the origin of the earliest registration */
  reg = registrar_of(m, subject);
  if (reg && !memcmp(reg, node, 32)) return 1;
  /* a consent in force to node, or to all */
  for (size_t k = 0; k < m->nops; k++) {
    const kr_op *o = &m->ops[k].op;
    if ((o->type != KR_OP_GRANT && o->type != KR_OP_WITHDRAW) || memcmp(o->subject, subject, 16) ||
        (!o->recipient_all && memcmp(o->recipient, node, 32)))
      continue;
    if (state_of(m, o, day) == KR_CONSENT_GRANTED) return 1;
  }
  return 0;
}

const char *model_value(const model *m, const uint8_t subject[static KR_SUBJECT_LEN], int field)
{
  const mop *win = NULL;
  if (erasure(m, subject)) return NULL;
  for (size_t k = 0; k < m->nops; k++)
    if (m->ops[k].op.type == KR_OP_SET && m->ops[k].op.field == field &&
        !memcmp(m->ops[k].op.subject, subject, 16) && (!win || later(&m->ops[k], win)))
      win = &m->ops[k];
  return win ? win->op.value : NULL;
}

int model_has(const model *m, const uint8_t subject[static KR_SUBJECT_LEN], int field,
              const char *value)
{
  if (erasure(m, subject)) return 0;
  for (size_t k = 0; k < m->nops; k++) {
    uint8_t t[16];
    int removed = 0;
    if (m->ops[k].op.type != KR_OP_ADD || m->ops[k].op.field != field ||
        memcmp(m->ops[k].op.subject, subject, 16) || strcmp(m->ops[k].op.value, value))
      continue;
    tag_of(&m->ops[k], t);
    for (size_t j = 0; j < m->nops && !removed; j++) {
      const kr_op *r = &m->ops[j].op;
      if (r->type != KR_OP_REMOVE || r->field != field || memcmp(r->subject, subject, 16) ||
          strcmp(r->value, value))
        continue;
      for (uint32_t x = 0; x < r->ntags && !removed; x++) removed = !memcmp(r->tags + 16 * x, t, 16);
    }
    if (!removed) return 1;
  }
  return 0;
}

static void hex6(const uint8_t *p, char out[13])
{
  for (int i = 0; i < 6; i++) snprintf(out + 2 * i, 3, "%02x", p[i]);
}

void model_explain(const model *m, const uint8_t subject[static KR_SUBJECT_LEN], const char *day)
{
  char o[13], r[13];
  for (size_t k = 0; k < m->nops; k++) {
    const mop *x = &m->ops[k];
    if (KR_OP_IS_MEMBERSHIP(x->op.type) || x->op.type == KR_OP_PURPOSE || memcmp(x->op.subject, subject, 16)) continue;
    hex6(x->c->origin, o);
    if (x->op.type == KR_OP_REGISTER) {
      printf("    registered by %s (hlc %llu)%s\n", o, (unsigned long long)x->c->hlc,
             model_member(m, x->c->origin) ? "" : ", not a member");
    } else if (x->op.type == KR_OP_GRANT || x->op.type == KR_OP_WITHDRAW) {
      if (x->op.recipient_all) strcpy(r, "all"); else hex6(x->op.recipient, r);
      printf("    %s %s to %s%s%s by %s/%llu (hlc %llu, %u observed): register reads %d on %s\n",
             x->op.type == KR_OP_GRANT ? "grant" : "withdraw", x->op.purpose, r,
             x->op.until && x->op.until[0] ? " until " : "", x->op.until ? x->op.until : "", o,
             (unsigned long long)x->c->seq, (unsigned long long)x->c->hlc, x->op.ntags,
             state_of(m, &x->op, day), day);
    } else if (x->op.type == KR_OP_ADD || x->op.type == KR_OP_REMOVE || x->op.type == KR_OP_SET) {
      uint8_t t[16];
      tag_of(x, t);
      printf("    %s %d %s by %s/%llu (hlc %llu, idx %x, tag %02x%02x%02x, %u observed)\n",
             x->op.type == KR_OP_ADD ? "add" : x->op.type == KR_OP_REMOVE ? "remove" : "set",
             x->op.field, x->op.value ? x->op.value : "(nil)", o, (unsigned long long)x->c->seq,
             (unsigned long long)x->c->hlc, x->idx, t[0], t[1], t[2], x->op.ntags);
      for (uint32_t j = 0; x->op.type == KR_OP_REMOVE && j < x->op.ntags; j++)
        printf("      observed %02x%02x%02x\n", x->op.tags[16 * j], x->op.tags[16 * j + 1],
               x->op.tags[16 * j + 2]);
    }
  }
  for (size_t k = 0; k < m->ndropped; k++) {
    const mop *x = &m->dropped[k];
    if (memcmp(x->op.subject, subject, 16)) continue;
    hex6(x->c->origin, o);
    if (x->op.type == KR_OP_GRANT || x->op.type == KR_OP_WITHDRAW) {
      if (x->op.recipient_all) strcpy(r, "all"); else hex6(x->op.recipient, r);
      printf("    %s of %s/%llu (hlc %llu, first op %d: %s %s to %s) does not count\n",
             x->op.type == KR_OP_WITHDRAW ? "withdrawal" : "group", o,
             (unsigned long long)x->c->seq, (unsigned long long)x->c->hlc, x->op.type,
             x->op.type == KR_OP_GRANT ? "grant" : "withdraw", x->op.purpose, r);
      continue;
    }
    printf("    group of %s/%llu (hlc %llu, first op %d) does not count\n", o,
           (unsigned long long)x->c->seq, (unsigned long long)x->c->hlc, x->op.type);
  }
}

/* ---- digests ------------------------------------------------------------------ */

static void digest_subject(const model *m, kr_digest *d, const uint8_t *subj)
{
  const mop *erase = erasure(m, subj);
  if (erase) {
    kr_stamp st;
    st.hlc = erase->c->hlc;
    memcpy(st.origin, erase->c->origin, 32);
    st.idx = erase->idx;
    kr_digest_erased(d, subj, &st);
    return;
  }
  kr_digest_subject(d, subj);
  /* Fields: the latest SET per field code, ascending code. */
  for (int f = 1; f < 32; f++) {
    const mop *win = NULL;
    for (size_t k = 0; k < m->nops; k++)
      if (m->ops[k].op.type == KR_OP_SET && m->ops[k].op.field == f &&
          !memcmp(m->ops[k].op.subject, subj, 16) && (!win || later(&m->ops[k], win)))
        win = &m->ops[k];
    if (win && win->op.value) kr_digest_field(d, f, win->op.value);
  }
  /* Sets: values with an add no remove observed; per field, ascending. */
  for (int f = 32; f < 64; f++) {
    const char **vals = NULL;
    size_t nv = 0;
    for (size_t k = 0; k < m->nops; k++) {
      uint8_t t[16];
      int removed = 0, dup = 0;
      if (m->ops[k].op.type != KR_OP_ADD || m->ops[k].op.field != f ||
          memcmp(m->ops[k].op.subject, subj, 16))
        continue;
      tag_of(&m->ops[k], t);
      for (size_t j = 0; j < m->nops && !removed; j++) {
        const kr_op *r = &m->ops[j].op;
        if (r->type != KR_OP_REMOVE || r->field != f || memcmp(r->subject, subj, 16) ||
            strcmp(r->value, m->ops[k].op.value))
          continue;
        for (uint32_t x = 0; x < r->ntags && !removed; x++) removed = !memcmp(r->tags + 16 * x, t, 16);
      }
      if (removed) continue;
      for (size_t j = 0; j < nv && !dup; j++) dup = !strcmp(vals[j], m->ops[k].op.value);
      if (!dup) {
        vals = realloc(vals, (nv + 1) * sizeof *vals);
        vals[nv++] = m->ops[k].op.value;
      }
    }
    /* insertion sort, binary order */
    for (size_t a = 1; a < nv; a++)
      for (size_t b = a; b > 0 && strcmp_bin(vals[b - 1], vals[b]) > 0; b--) {
        const char *t = vals[b]; vals[b] = vals[b - 1]; vals[b - 1] = t;
      }
    for (size_t j = 0; j < nv; j++) kr_digest_element(d, f, vals[j]);
    free(vals);
  }
  /* Consent registers: (purpose, recipient) ascending, "all" first. */
  {
    const mop **regs = NULL;
    size_t nr = 0;
    for (size_t k = 0; k < m->nops; k++) {
      const kr_op *o = &m->ops[k].op;
      int dup = 0;
      if ((o->type != KR_OP_GRANT && o->type != KR_OP_WITHDRAW) || memcmp(o->subject, subj, 16))
        continue;
      for (size_t j = 0; j < nr && !dup; j++) dup = SAME_REG(&regs[j]->op, o);
      if (!dup) {
        regs = realloc(regs, (nr + 1) * sizeof *regs);
        regs[nr++] = &m->ops[k];
      }
    }
    for (size_t a = 1; a < nr; a++)
      for (size_t b = a; b > 0; b--) {
        const kr_op *x = &regs[b - 1]->op, *y = &regs[b]->op;
        int c = strcmp_bin(x->purpose, y->purpose);
        if (!c) c = bincmp(x->recipient, x->recipient_all ? 0 : 32, y->recipient, y->recipient_all ? 0 : 32);
        if (c <= 0) break;
        { const mop *t = regs[b]; regs[b] = regs[b - 1]; regs[b - 1] = t; }
      }
    for (size_t r = 0; r < nr; r++) {
      const kr_op *key = &regs[r]->op;
      const mop *best;
      uint8_t (*tags)[16] = NULL, bt[16];
      size_t nt = 0;
      int withdrawn;
      for (size_t g = 0; g < m->nops; g++) {
        if (!SAME_REG(&m->ops[g].op, key)) continue;
        tags = realloc(tags, (nt + 1) * 16);
        tag_of(&m->ops[g], tags[nt++]);
      }
      best = in_force(m, key, &withdrawn);
      if (best) tag_of(best, bt);
      kr_digest_consent(d, key->purpose, key->recipient_all ? NULL : key->recipient, best ? bt : NULL);
      qsort(tags, nt, 16, cmp16);
      for (size_t j = 0; j < nt; j++) kr_digest_consent_op(d, tags[j]);
      free(tags);
    }
    free(regs);
  }
}

void model_digest(const model *m, const uint8_t *reader, const char *day, uint8_t out[32])
{
  model_digest_but(m, reader, day, NULL, 0, out);
}

void model_digest_but(const model *m, const uint8_t *reader, const char *day,
                      const uint8_t (*skip)[KR_SUBJECT_LEN], size_t nskip, uint8_t out[32])
{
  uint8_t (*subj)[16] = NULL;
  size_t nsubj = 0;
  kr_digest d;

  for (size_t k = 0; k < m->nops; k++) {
    int seen = KR_OP_IS_MEMBERSHIP(m->ops[k].op.type) || m->ops[k].op.type == KR_OP_PURPOSE;
    for (size_t j = 0; j < nsubj && !seen; j++) seen = !memcmp(subj[j], m->ops[k].op.subject, 16);
    if (!seen) {
      subj = realloc(subj, (nsubj + 1) * 16);
      memcpy(subj[nsubj++], m->ops[k].op.subject, 16);
    }
  }
  qsort(subj, nsubj, 16, cmp16);

  kr_digest_init(&d);
  for (size_t s = 0; s < nsubj; s++) {
    int skipped = 0;
    for (size_t k = 0; k < nskip && !skipped; k++) skipped = !memcmp(skip[k], subj[s], 16);
    if (!reader || erasure(m, subj[s]) || (!skipped && model_reads(m, subj[s], reader, day)))
      digest_subject(m, &d, subj[s]);
  }
  /* Members: every node a membership op names, ascending id; the name
   * from its earliest admission in force, the smallest cutoff of its
   * removals. */
  {
    uint8_t (*nodes)[32] = NULL;
    size_t nn = 0;
    for (size_t k = 0; k < m->nops; k++) {
      const uint8_t *who;
      int seen = 0;
      if (!KR_OP_IS_MEMBERSHIP(m->ops[k].op.type)) continue;
      who = m->ops[k].op.type == KR_OP_FOUND ? m->ops[k].c->origin : m->ops[k].op.member;
      for (size_t j = 0; j < nn && !seen; j++) seen = !memcmp(nodes[j], who, 32);
      if (!seen) {
        nodes = realloc(nodes, (nn + 1) * 32);
        memcpy(nodes[nn++], who, 32);
      }
    }
    qsort(nodes, nn, 32, cmp32);
    for (size_t j = 0; j < nn; j++) {
      uint64_t cutoff;
      const mop *adm = admission(m, nodes[j], &cutoff);
      kr_digest_member(&d, nodes[j], adm ? adm->op.org : NULL, adm ? adm->op.kind : NULL, cutoff);
    }
    free(nodes);
  }
  /* Purposes: every name a purpose op gives, ascending; the values of its
   * op with the greatest stamp. */
  {
    const char **names = NULL;
    size_t nn = 0;
    for (size_t k = 0; k < m->nops; k++) {
      int seen = 0;
      if (m->ops[k].op.type != KR_OP_PURPOSE) continue;
      for (size_t j = 0; j < nn && !seen; j++) seen = !strcmp(names[j], m->ops[k].op.purpose);
      if (!seen) {
        names = realloc(names, (nn + 1) * sizeof *names);
        names[nn++] = m->ops[k].op.purpose;
      }
    }
    for (size_t a = 1; a < nn; a++)         /* insertion sort, BINARY order */
      for (size_t b = a; b > 0 && strcmp_bin(names[b - 1], names[b]) > 0; b--) {
        const char *t = names[b - 1];
        names[b - 1] = names[b];
        names[b] = t;
      }
    for (size_t j = 0; j < nn; j++) {
      const mop *win = NULL;
      for (size_t k = 0; k < m->nops; k++)
        if (m->ops[k].op.type == KR_OP_PURPOSE && !strcmp(m->ops[k].op.purpose, names[j]) &&
            (!win || later(&m->ops[k], win)))
          win = &m->ops[k];
      kr_digest_purpose(&d, names[j], win->op.value, win->op.text_version);
    }
    free(names);
  }
  kr_digest_final(&d, out);
  free(subj);
}

static int by_origin_seq(const void *a, const void *b)
{
  const kr_change *x = *(const kr_change *const *)a, *y = *(const kr_change *const *)b;
  int k = memcmp(x->origin, y->origin, 32);
  if (k) return k;
  return x->seq < y->seq ? -1 : x->seq > y->seq;
}

void model_held_digest(const model *m, uint8_t out[32])
{
  const kr_change **c = malloc((m->nch + 1) * sizeof *c);
  crypto_generichash_state h;

  memcpy(c, m->ch, m->nch * sizeof *c);
  qsort(c, m->nch, sizeof *c, by_origin_seq);
  crypto_generichash_init(&h, NULL, 0, 32);
  crypto_generichash_update(&h, (const unsigned char *)"kring-held-1", 12);
  for (size_t i = 0; i < m->nch; i++) {
    uint8_t hh[32];
    crypto_generichash(hh, sizeof hh, c[i]->header, c[i]->header_len, NULL, 0);
    crypto_generichash_update(&h, hh, sizeof hh);
  }
  crypto_generichash_final(&h, out, 32);
  free(c);
}
