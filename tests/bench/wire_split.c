/*
 * wire_split: where the bytes of a change go, per volunteer, and what the
 * change format 4 of docs/design/format4.md would make of the same ops.
 * A measurement for issue 18, built with the benchmarks (KRING_BENCH):
 *
 *   KRING_BENCH_QUICK=1 KRING_BENCH_KEEP=1 build/tests/bench_node 2000
 *   build/tests/wire_split /tmp/kring-bench-XXXX/b/kring.db   # B reads every volunteer
 *
 * It reads a reader's store, opens every group with the keys it holds, and
 * adds up each part of the changes of groups, key ops and registrations
 * (the format built, docs/protocol.md), msgpack framing apart; then it
 * encodes the sizes (not the bytes) of the same content as the records,
 * node table and inner codes that docs/design/format4.md adds to it. Figures
 * are per volunteer: divided by the register ops.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>
#include <sqlite3.h>

#include "crdt/change.h"

static double part[64];
static const char *pname[64];
static int nparts;

static void add(const char *name, double v)
{
  int i;
  for (i = 0; i < nparts && strcmp(pname[i], name); i++) {}
  if (i == nparts) pname[nparts++] = name;
  part[i] += v;
}

/* msgpack prefix bytes of a bin/str/array, and the bytes of a uint */
static int binp(size_t n) { return n < 256 ? 2 : n < 65536 ? 3 : 5; }
static int arrp(size_t n) { return n < 16 ? 1 : n < 65536 ? 3 : 5; }
static int uintn(uint64_t v) { return v < 128 ? 1 : v < 256 ? 2 : v < 65536 ? 3 : v <= 0xffffffffu ? 5 : 9; }

/* Format 4: one record per (subject, epoch, creator) of a change. */
#define MAXR 16
typedef struct {
  uint8_t subject[16], creator[32], readers[MAXR][32], recips[MAXR][32];
  uint64_t epoch;
  int reg, box, nreaders, nrecips, recip_all[MAXR];
  double plain;                  /* format-4 plaintext less grant recipients */
} rec;

static int nodes_n;
static uint8_t nodes[256][32];
/* the node's number in the change's table (0: the origin), or -1 */
static int node_no(const uint8_t *origin, const uint8_t *id, int addit)
{
  if (!memcmp(origin, id, 32)) return 0;
  for (int i = 0; i < nodes_n; i++)
    if (!memcmp(nodes[i], id, 32)) return i + 1;
  if (!addit || nodes_n == 256) return -1;
  memcpy(nodes[nodes_n++], id, 32);
  return nodes_n;
}

static rec *rec_of(rec *r, int *nr, const uint8_t *subject, uint64_t epoch, const uint8_t *creator)
{
  for (int i = 0; i < *nr; i++)
    if (!memcmp(r[i].subject, subject, 16) && (!r[i].epoch || (r[i].epoch == epoch &&
                                                               !memcmp(r[i].creator, creator, 32)))) {
      r[i].epoch = epoch;
      memcpy(r[i].creator, creator, 32);
      return &r[i];
    }
  memset(&r[*nr], 0, sizeof r[*nr]);
  memcpy(r[*nr].subject, subject, 16);
  r[*nr].epoch = epoch;
  if (creator) memcpy(r[*nr].creator, creator, 32);
  return &r[(*nr)++];
}

int main(int argc, char **argv)
{
  sqlite3 *db;
  sqlite3_stmt *c, *o, *k;
  uint8_t net[16];
  long vols = 0, changes = 0, wire = 0, raw = 0;
  double w4[3] = {0, 0, 0};      /* A: bin-wrapped records; B: hashed in place; C: B, keys unsealed by AEAD */

  if (argc < 2 || sodium_init() < 0 || sqlite3_open_v2(argv[1], &db, SQLITE_OPEN_READONLY, NULL))
    return fprintf(stderr, "usage: wire_split STORE/kring.db\n"), 1;
  sqlite3_prepare_v2(db, "SELECT value FROM meta WHERE key='network'", -1, &c, NULL);
  if (sqlite3_step(c) != SQLITE_ROW) return 1;
  memcpy(net, sqlite3_column_blob(c, 0), 16);
  sqlite3_finalize(c);
  /* the bench's changes: more than one op, all groups, key ops, registrations */
  sqlite3_prepare_v2(db, "SELECT c.n, o.key, c.seq, c.hlc, length(c.header), c.nops, c.header"
                         " FROM changes c"
                         " JOIN origins o ON o.n=c.origin WHERE c.nops > 1 AND NOT EXISTS"
                         " (SELECT 1 FROM ops WHERE chg=c.n AND type NOT IN (10,11,12))", -1, &c, NULL);
  sqlite3_prepare_v2(db, "SELECT idx, body FROM ops WHERE chg=? ORDER BY idx", -1, &o, NULL);
  sqlite3_prepare_v2(db, "SELECT key FROM vkeys v JOIN subjects s ON s.n=v.subj"
                         " WHERE s.id=? AND v.en=? AND v.creator=?", -1, &k, NULL);
  while (sqlite3_step(c) == SQLITE_ROW) {
    const uint8_t *origin = sqlite3_column_blob(c, 1);
    uint64_t seq = (uint64_t)sqlite3_column_int64(c, 2), hlc = (uint64_t)sqlite3_column_int64(c, 3);
    size_t hlen = (size_t)sqlite3_column_int(c, 4), nops = (size_t)sqlite3_column_int(c, 5);
    long cw = 1 + binp(hlen) + (long)hlen + 2 + 64 + arrp(nops);
    rec *r = calloc(nops, sizeof *r);
    int nr = 0;
    uint8_t nonce[KR_NONCE_LEN];
    kr_nodes tab;
    void *tm;
    if (kr_change_header_ctx(sqlite3_column_blob(c, 6), hlen, nonce, &tab, &tm))
      return fprintf(stderr, "bad header\n"), 1;
    changes++;
    nodes_n = 0;
    add("change: array(3), header bin, signature bin(64), ops array", cw - (long)hlen);
    add("header: version, origin, seq, hlc, nonce bin(16), root bin(32)",
        1 + 1 + 34 + uintn(seq) + uintn(hlc) + 18 + 34);
    add("header: node table", arrp(tab.n) + 34.0 * tab.n);
    sqlite3_bind_int64(o, 1, sqlite3_column_int64(c, 0));
    while (sqlite3_step(o) == SQLITE_ROW) {
      const uint8_t *b = sqlite3_column_blob(o, 1);
      size_t len = (size_t)sqlite3_column_bytes(o, 1);
      uint32_t place = (uint32_t)sqlite3_column_int(o, 0);
      kr_op op;
      void *mem;
      rec *x;
      cw += binp(len) + (long)len;
      add("op: bin wrapper in the ops array", binp(len));
      if (kr_op_parse(b, len, &tab, &op, &mem)) return fprintf(stderr, "bad op\n"), 1;
      if (op.type == KR_OP_REGISTER) {
        vols++;
        add("register: array, type, subject bin(16), salt bin(16)", (double)len);
        rec_of(r, &nr, op.subject, 0, NULL)->reg = 1;
      } else if (op.type == KR_OP_KEY) {
        add("key: array, type, epoch, creator and reader numbers", (double)len - 18 - 50);
        add("key: subject bin(16)", 18);
        add("key: box bin(48) (key 32, tag 16, prefix 2; nonce derived)", 50);
        x = rec_of(r, &nr, op.subject, op.epoch, op.creator);
        node_no(origin, op.creator, 1);
        node_no(origin, op.member, 1);
        if (x->nreaders < MAXR) memcpy(x->readers[x->nreaders++], op.member, 32);
      } else if (op.type == KR_OP_GROUP) {
        kr_buf plain;
        kr_op *in;
        uint32_t nin;
        void *m2;
        double vals = 0;
        add("group: array, type, epoch, creator number", (double)len - 18 - binp(op.box_len) - op.box_len);
        add("group: subject bin(16)", 18);
        add("group: box prefix, Poly1305 tag 16 (nonce derived)", binp(op.box_len) + 16);
        x = rec_of(r, &nr, op.subject, op.epoch, op.creator);
        x->box = 1;
        node_no(origin, op.creator, 1);
        sqlite3_bind_blob(k, 1, op.subject, 16, SQLITE_STATIC);
        sqlite3_bind_int64(k, 2, (sqlite3_int64)op.epoch);
        sqlite3_bind_blob(k, 3, op.creator, 32, SQLITE_STATIC);
        if (sqlite3_step(k) != SQLITE_ROW) return fprintf(stderr, "no key\n"), 1;
        kr_buf_init(&plain, KR_CHANGE_MAX);
        if (kr_group_open(sqlite3_column_blob(k, 0), net, origin, seq, nonce, place, &op, &plain) ||
            kr_group_decode(plain.data, plain.len, op.subject, &tab, &in, &nin, &m2))
          return fprintf(stderr, "group does not open\n"), 1;
        sqlite3_reset(k);
        for (uint32_t j = 0; j < nin; j++) {
          kr_op *y = &in[j];
          size_t vl = y->value ? strlen(y->value) : 0;
          if (y->type == KR_OP_SET || y->type == KR_OP_ADD || y->type == KR_OP_REMOVE) vals += (double)vl;
        }
        raw += (long)vals;
        add("plain: the values (raw field data)", vals);
        add("plain: codes, str prefixes, grants", (double)plain.len - vals);
        /* the records of format4.md take the plaintext as it is now */
        x->plain += (double)plain.len;
        free(m2);
        kr_buf_free(&plain);
      }
      free(mem);
    }
    sqlite3_reset(o);
    wire += cw;
    /* the same change in format 4 */
    {
      double h4 = 1 + 1 + 34 + uintn(seq) + uintn(hlc) + 18 + arrp(nodes_n) + 34.0 * nodes_n + 34;
      double body[3] = {0, 0, 0};
      for (int v = 0; v < 3; v++) body[v] = 1 + binp((size_t)h4) + h4 + 66 + arrp((size_t)nr);
      add("f4 change: array(3), header bin, signature, ops array", body[0] - h4);
      add("f4 header: version, origin, seq, hlc, nonce(16), root(32)", h4 - arrp(nodes_n) - 34.0 * nodes_n);
      add("f4 header: node table", arrp(nodes_n) + 34.0 * nodes_n);
      for (int i = 0; i < nr; i++) {
        rec *x = &r[i];
        double p = x->plain, box, keys[2], len;
        box = x->box ? binp((size_t)p + 16) + p + 16 : 1;
        keys[0] = keys[1] = x->nreaders ? arrp(2 * (size_t)x->nreaders) : 1;
        for (int j = 0; j < x->nreaders; j++) {
          int no = node_no(origin, x->readers[j], 0);
          keys[0] += uintn((uint64_t)no) + 2 + 48;
          keys[1] += uintn((uint64_t)no) + 2 + 32;
        }
        /* a registering record (type 15) names no subject: it is made from
         * the origin, the change's nonce and the registration's number */
        len = arrp(6) + 1 + (x->reg ? 0 : 18) + uintn(x->epoch) +
              uintn((uint64_t)node_no(origin, x->creator, 0)) + box;
        add("f4 record: array, type, epoch, creator number", arrp(6) + 1 + uintn(x->epoch) +
            uintn((uint64_t)node_no(origin, x->creator, 0)));
        add("f4 record: subject bin(16) (none when registering)", x->reg ? 0 : 18);
        add("f4 record: box prefix, Poly1305 tag 16 (nonce derived)", x->box ? binp((size_t)p + 16) + 16 : 1);
        add("f4 record: plaintext (codes, values, grant with recipient number)", p);
        add("f4 record: keys, per reader: number, bin(48)", keys[0]);
        add("f4 record: bin wrapper", binp((size_t)(len + keys[0])));
        body[0] += binp((size_t)(len + keys[0])) + len + keys[0];
        body[1] += len + keys[0];
        body[2] += len + keys[1];
      }
      for (int v = 0; v < 3; v++) w4[v] += body[v];
    }
    free(r);
    free(tm);
  }
  printf("%ld changes, %ld volunteers, wire %ld bytes (%.2f per volunteer), raw %ld (%.3f), %.3fx\n",
         changes, vols, wire, (double)wire / vols, raw, (double)raw / vols, (double)wire / raw);
  {
    double s3 = 0, s4 = 0;
    for (int i = 0; i < nparts; i++) {
      if (strncmp(pname[i], "f4", 2)) s3 += part[i]; else s4 += part[i];
      printf("%8.2f  %s\n", part[i] / vols, pname[i]);
    }
    printf("%8.2f  format %d total (%s)\n", s3 / vols, KR_CHANGE_VERSION, (long)(s3 + 0.5) == wire ? "equals the wire" : "MISMATCH");
    printf("%8.2f  records (format4.md) total, A (%s)\n", s4 / vols, (long)(s4 + 0.5) == (long)(w4[0] + 0.5) ? "equals A below" : "MISMATCH");
  }
  printf("records, A (bin-wrapped):                     %8.2f per volunteer, %.3fx\n", w4[0] / vols, w4[0] / raw);
  printf("records, B (A, hashed in place):              %8.2f per volunteer, %.3fx\n", w4[1] / vols, w4[1] / raw);
  printf("records, C (B, key entries without tag):      %8.2f per volunteer, %.3fx\n", w4[2] / vols, w4[2] / raw);
  sqlite3_close(db);
  return 0;
}
