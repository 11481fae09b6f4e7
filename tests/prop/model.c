/* model: the naive reference (see model.h). Quadratic on purpose. */
#include <stdlib.h>
#include <string.h>

#include "crdt/digest.h"
#include "crdt/merge.h"
#include "model.h"

typedef struct {
  const kr_change *c;
  uint32_t i;
  const kr_op *op;
} mop;

/* (hlc, origin, index) */
static int later(const mop *a, const mop *b)
{
  int k;
  if (a->c->hlc != b->c->hlc) return a->c->hlc > b->c->hlc;
  k = memcmp(a->c->origin, b->c->origin, 32);
  if (k) return k > 0;
  return a->i > b->i;
}

/* SQLite BINARY order: bytes, then the shorter first. */
static int bincmp(const void *a, size_t al, const void *b, size_t bl)
{
  int k = memcmp(a, b, al < bl ? al : bl);
  if (k) return k;
  return al < bl ? -1 : al > bl;
}

static int strcmp_bin(const char *a, const char *b) { return bincmp(a, strlen(a), b, strlen(b)); }

static void tag_of(const mop *m, uint8_t t[16]) { kr_op_tag(m->c->origin, m->c->seq, m->i, t); }

static int cmp16(const void *a, const void *b) { return memcmp(a, b, 16); }
static int cmp32(const void *a, const void *b) { return memcmp(a, b, 32); }

/* An admission is void when another admission of the same invite names
 * another node and has an earlier stamp: one invite admits one node. */
static int model_admission_in_force(const mop *ops, size_t nops, size_t k)
{
  for (size_t j = 0; j < nops; j++)
    if (ops[j].op->type == KR_OP_ADMIT && !memcmp(ops[j].op->subject, ops[k].op->subject, 16) &&
        memcmp(ops[j].op->member, ops[k].op->member, 32) && later(&ops[k], &ops[j]))
      return 0;
  return 1;
}

void model_digest(const kr_change *changes, size_t n, uint8_t out[32])
{
  model_digest_at(changes, n, NULL, out);
}

void model_digest_at(const kr_change *changes, size_t n, const uint32_t *const *idx,
                     uint8_t out[32])
{
  mop *ops = NULL;
  size_t nops = 0;
  uint8_t (*subj)[16] = NULL;
  size_t nsubj = 0;
  kr_digest d;

  /* Every op of every distinct (origin, seq). */
  for (size_t k = 0; k < n; k++) {
    int dup = 0;
    for (size_t j = 0; j < k && !dup; j++)
      dup = changes[j].seq == changes[k].seq && !memcmp(changes[j].origin, changes[k].origin, 32);
    if (dup) continue;
    for (uint32_t i = 0; i < changes[k].nops; i++) {
      if (changes[k].ops[i].type == KR_OP_REDACTED) continue;
      ops = realloc(ops, (nops + 1) * sizeof *ops);
      ops[nops].c = &changes[k];
      ops[nops].i = idx && idx[k] ? idx[k][i] : i;
      ops[nops].op = &changes[k].ops[i];
      nops++;
    }
  }
  for (size_t k = 0; k < nops; k++) {
    int seen = KR_OP_IS_MEMBERSHIP(ops[k].op->type) || ops[k].op->type == KR_OP_PURPOSE;
    for (size_t j = 0; j < nsubj && !seen; j++) seen = !memcmp(subj[j], ops[k].op->subject, 16);
    if (!seen) {
      subj = realloc(subj, (nsubj + 1) * 16);
      memcpy(subj[nsubj++], ops[k].op->subject, 16);
    }
  }
  qsort(subj, nsubj, 16, cmp16);

  kr_digest_init(&d);
  for (size_t s = 0; s < nsubj; s++) {
    const mop *erase = NULL;
    for (size_t k = 0; k < nops; k++)
      if (ops[k].op->type == KR_OP_ERASE && !memcmp(ops[k].op->subject, subj[s], 16) &&
          (!erase || later(erase, &ops[k])))
        erase = &ops[k];
    if (erase) {
      kr_stamp m;
      m.hlc = erase->c->hlc;
      memcpy(m.origin, erase->c->origin, 32);
      m.idx = erase->i;
      kr_digest_erased(&d, subj[s], &m);
      continue;
    }
    kr_digest_subject(&d, subj[s]);
    /* Fields: the latest SET per field code, ascending code. */
    for (int f = 1; f < 32; f++) {
      const mop *win = NULL;
      for (size_t k = 0; k < nops; k++)
        if (ops[k].op->type == KR_OP_SET && ops[k].op->field == f &&
            !memcmp(ops[k].op->subject, subj[s], 16) && (!win || later(&ops[k], win)))
          win = &ops[k];
      if (win && win->op->value) kr_digest_field(&d, f, win->op->value);
    }
    /* Sets: values with an add no remove observed; per field, ascending. */
    for (int f = 32; f < 64; f++) {
      const char **vals = NULL;
      size_t nv = 0;
      for (size_t k = 0; k < nops; k++) {
        uint8_t t[16];
        int removed = 0, dup = 0;
        if (ops[k].op->type != KR_OP_ADD || ops[k].op->field != f ||
            memcmp(ops[k].op->subject, subj[s], 16))
          continue;
        tag_of(&ops[k], t);
        for (size_t j = 0; j < nops && !removed; j++) {
          const kr_op *r = ops[j].op;
          if (r->type != KR_OP_REMOVE || r->field != f || memcmp(r->subject, subj[s], 16) ||
              strcmp(r->value, ops[k].op->value))
            continue;
          for (uint32_t x = 0; x < r->ntags && !removed; x++)
            removed = !memcmp(r->tags + 16 * x, t, 16);
        }
        if (removed) continue;
        for (size_t j = 0; j < nv && !dup; j++) dup = !strcmp(vals[j], ops[k].op->value);
        if (!dup) {
          vals = realloc(vals, (nv + 1) * sizeof *vals);
          vals[nv++] = ops[k].op->value;
        }
      }
      /* insertion sort, binary order */
      for (size_t a = 1; a < nv; a++)
        for (size_t b = a; b > 0 && strcmp_bin(vals[b - 1], vals[b]) > 0; b--) {
          const char *t = vals[b]; vals[b] = vals[b - 1]; vals[b - 1] = t;
        }
      for (size_t j = 0; j < nv; j++) kr_digest_element(&d, f, vals[j]);
      free(vals);
    }
    /* Consent registers: (purpose, recipient) ascending, "all" first. */
    {
      const mop **regs = NULL;
      size_t nr = 0;
      for (size_t k = 0; k < nops; k++) {
        const kr_op *o = ops[k].op;
        int dup = 0;
        if ((o->type != KR_OP_GRANT && o->type != KR_OP_WITHDRAW) || memcmp(o->subject, subj[s], 16))
          continue;
        for (size_t j = 0; j < nr && !dup; j++)
          dup = !strcmp(regs[j]->op->purpose, o->purpose) && regs[j]->op->recipient_all == o->recipient_all &&
                (o->recipient_all || !memcmp(regs[j]->op->recipient, o->recipient, 32));
        if (!dup) {
          regs = realloc(regs, (nr + 1) * sizeof *regs);
          regs[nr++] = &ops[k];
        }
      }
      for (size_t a = 1; a < nr; a++)
        for (size_t b = a; b > 0; b--) {
          const kr_op *x = regs[b - 1]->op, *y = regs[b]->op;
          int c = strcmp_bin(x->purpose, y->purpose);
          if (!c) c = bincmp(x->recipient, x->recipient_all ? 0 : 32, y->recipient, y->recipient_all ? 0 : 32);
          if (c <= 0) break;
          { const mop *t = regs[b]; regs[b] = regs[b - 1]; regs[b - 1] = t; }
        }
      for (size_t r = 0; r < nr; r++) {
        const kr_op *key = regs[r]->op;
        const mop *best = NULL;
        uint8_t (*tags)[16] = NULL, bt[16];
        size_t nt = 0;
#define SAME_REG(o) ((o->type == KR_OP_GRANT || o->type == KR_OP_WITHDRAW) && \
  !memcmp(o->subject, subj[s], 16) && !strcmp(o->purpose, key->purpose) && \
  o->recipient_all == key->recipient_all && (o->recipient_all || !memcmp(o->recipient, key->recipient, 32)))
        for (size_t g = 0; g < nops; g++) {
          int ok = 1;
          if (!SAME_REG(ops[g].op)) continue;
          tags = realloc(tags, (nt + 1) * 16);
          tag_of(&ops[g], tags[nt++]);
          if (ops[g].op->type != KR_OP_GRANT) continue;
          for (size_t w = 0; w < nops && ok; w++) {
            uint8_t wt[16];
            int seen = 0;
            if (!SAME_REG(ops[w].op) || ops[w].op->type != KR_OP_WITHDRAW) continue;
            tag_of(&ops[w], wt);
            for (uint32_t x = 0; x < ops[g].op->ntags && !seen; x++)
              seen = !memcmp(ops[g].op->tags + 16 * x, wt, 16);
            ok = seen;
          }
          if (ok && (!best || later(&ops[g], best))) best = &ops[g];
        }
#undef SAME_REG
        if (best) tag_of(best, bt);
        kr_digest_consent(&d, key->purpose, key->recipient_all ? NULL : key->recipient, best ? bt : NULL);
        qsort(tags, nt, 16, cmp16);
        for (size_t j = 0; j < nt; j++) kr_digest_consent_op(&d, tags[j]);
        free(tags);
      }
      free(regs);
    }
  }
  /* Members: every node a membership op names, ascending id; the name
   * from its earliest admission in force, the smallest cutoff of its
   * removals. */
  {
    uint8_t (*nodes)[32] = NULL;
    size_t nn = 0;
    for (size_t k = 0; k < nops; k++) {
      const uint8_t *who;
      int seen = 0;
      if (!KR_OP_IS_MEMBERSHIP(ops[k].op->type)) continue;
      who = ops[k].op->type == KR_OP_FOUND ? ops[k].c->origin : ops[k].op->member;
      for (size_t j = 0; j < nn && !seen; j++) seen = !memcmp(nodes[j], who, 32);
      if (!seen) {
        nodes = realloc(nodes, (nn + 1) * 32);
        memcpy(nodes[nn++], who, 32);
      }
    }
    qsort(nodes, nn, 32, cmp32);
    for (size_t j = 0; j < nn; j++) {
      const mop *adm = NULL;
      uint64_t cutoff = UINT64_MAX;
      for (size_t k = 0; k < nops; k++) {
        const kr_op *op = ops[k].op;
        if (op->type == KR_OP_FOUND && !memcmp(ops[k].c->origin, nodes[j], 32) &&
            (!adm || later(adm, &ops[k])))
          adm = &ops[k];
        if (op->type == KR_OP_ADMIT && !memcmp(op->member, nodes[j], 32) &&
            model_admission_in_force(ops, nops, k) && (!adm || later(adm, &ops[k])))
          adm = &ops[k];
        if (op->type == KR_OP_EXPEL && !memcmp(op->member, nodes[j], 32) && op->after_seq < cutoff)
          cutoff = op->after_seq;
      }
      kr_digest_member(&d, nodes[j], adm ? adm->op->org : NULL, adm ? adm->op->kind : NULL, cutoff);
    }
    free(nodes);
  }
  /* Purposes: every name a purpose op gives, ascending; the values of its
   * op with the greatest stamp. */
  {
    const char **names = NULL;
    size_t nn = 0;
    for (size_t k = 0; k < nops; k++) {
      int seen = 0;
      if (ops[k].op->type != KR_OP_PURPOSE) continue;
      for (size_t j = 0; j < nn && !seen; j++) seen = !strcmp(names[j], ops[k].op->purpose);
      if (!seen) {
        names = realloc(names, (nn + 1) * sizeof *names);
        names[nn++] = ops[k].op->purpose;
      }
    }
    for (size_t a = 0; a < nn; a++)         /* insertion sort, BINARY order */
      for (size_t b = a; b > 0 && strcmp_bin(names[b - 1], names[b]) > 0; b--) {
        const char *t = names[b - 1];
        names[b - 1] = names[b];
        names[b] = t;
      }
    for (size_t j = 0; j < nn; j++) {
      const mop *win = NULL;
      for (size_t k = 0; k < nops; k++)
        if (ops[k].op->type == KR_OP_PURPOSE && !strcmp(ops[k].op->purpose, names[j]) &&
            (!win || later(&ops[k], win)))
          win = &ops[k];
      kr_digest_purpose(&d, names[j], win->op->value, win->op->text_version);
    }
    free(names);
  }
  kr_digest_final(&d, out);
  free(ops);
  free(subj);
}

/* Consent of one register read from the rules in docs/crdt.md alone: a
 * grant is in force when it observed every withdrawal of the register; the
 * latest grant in force sets the terms; no grant in force and a withdrawal
 * reads withdrawn. Erased subjects and unknown registers read none. */
int model_consent(const kr_change *changes, size_t n, const uint8_t subject[16],
                  const char *purpose, const uint8_t *recipient, const char *day)
{
  const kr_change *bc = NULL;
  uint32_t bi = 0;
  int withdrawn = 0;
#define MODEL_REG(o) ((o->type == KR_OP_GRANT || o->type == KR_OP_WITHDRAW) && \
  !memcmp(o->subject, subject, 16) && !strcmp(o->purpose, purpose) && \
  (recipient ? !o->recipient_all && !memcmp(o->recipient, recipient, 32) : o->recipient_all))

  for (size_t k = 0; k < n; k++)
    for (uint32_t i = 0; i < changes[k].nops; i++)
      if (changes[k].ops[i].type == KR_OP_ERASE && !memcmp(changes[k].ops[i].subject, subject, 16))
        return 0;
  for (size_t k = 0; k < n; k++)
    for (uint32_t i = 0; i < changes[k].nops; i++) {
      const kr_op *g = &changes[k].ops[i];
      int ok = 1;
      if (!MODEL_REG(g)) continue;
      if (g->type == KR_OP_WITHDRAW) { withdrawn = 1; continue; }
      for (size_t j = 0; j < n && ok; j++)
        for (uint32_t w = 0; w < changes[j].nops && ok; w++) {
          const kr_op *o = &changes[j].ops[w];
          uint8_t wt[16];
          int seen = 0;
          if (!MODEL_REG(o) || o->type != KR_OP_WITHDRAW) continue;
          kr_op_tag(changes[j].origin, changes[j].seq, w, wt);
          for (uint32_t x = 0; x < g->ntags && !seen; x++) seen = !memcmp(g->tags + 16 * x, wt, 16);
          ok = seen;
        }
      if (!ok) continue;
      if (!bc || changes[k].hlc > bc->hlc ||
          (changes[k].hlc == bc->hlc && (memcmp(changes[k].origin, bc->origin, 32) > 0 ||
                                         (!memcmp(changes[k].origin, bc->origin, 32) && i > bi)))) {
        bc = &changes[k];
        bi = i;
      }
    }
#undef MODEL_REG
  if (!bc) return withdrawn ? KR_CONSENT_WITHDRAWN : KR_CONSENT_NONE;
  if (bc->ops[bi].until && bc->ops[bi].until[0] && strcmp(bc->ops[bi].until, day) < 0)
    return KR_CONSENT_EXPIRED;
  return KR_CONSENT_GRANTED;
}
