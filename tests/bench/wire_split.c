/*
 * wire_split: where the bytes of a change go, per volunteer (change
 * format 4 with records, docs/protocol.md). A measurement for issue 18,
 * built with the benchmarks (KRING_BENCH):
 *
 *   KRING_BENCH_QUICK=1 KRING_BENCH_KEEP=1 build/tests/bench_node 2000
 *   build/tests/wire_split /tmp/kring-bench-XXXX/b/kring.db   # B reads every volunteer
 *
 * It reads a reader's store, opens every record's box with the keys it
 * holds, and adds up each part of the bench's changes (those of records
 * only), msgpack framing apart. Figures are per volunteer: divided by the
 * registering records.
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

/* the node's number in the change's table t (0: the origin) */
static uint64_t no_of(const kr_nodes *t, const uint8_t *id)
{
  int64_t n = kr_nodes_no(t, id);
  return n < 0 ? 0 : (uint64_t)n;
}

int main(int argc, char **argv)
{
  sqlite3 *db;
  sqlite3_stmt *c, *o, *k;
  uint8_t net[16];
  long vols = 0, changes = 0, wire = 0, raw = 0;

  if (argc < 2 || sodium_init() < 0 || sqlite3_open_v2(argv[1], &db, SQLITE_OPEN_READONLY, NULL))
    return fprintf(stderr, "usage: wire_split STORE/kring.db\n"), 1;
  sqlite3_prepare_v2(db, "SELECT value FROM meta WHERE key='network'", -1, &c, NULL);
  if (sqlite3_step(c) != SQLITE_ROW) return 1;
  memcpy(net, sqlite3_column_blob(c, 0), 16);
  sqlite3_finalize(c);
  /* the bench's changes: more than one op, all records */
  sqlite3_prepare_v2(db, "SELECT c.n, o.key, c.seq, c.hlc, length(c.header), c.nops, c.header"
                         " FROM changes c"
                         " JOIN origins o ON o.n=c.origin WHERE c.nops > 1 AND NOT EXISTS"
                         " (SELECT 1 FROM ops WHERE chg=c.n AND type NOT IN (14,15))", -1, &c, NULL);
  sqlite3_prepare_v2(db, "SELECT idx, body, subj FROM ops WHERE chg=? ORDER BY idx", -1, &o, NULL);
  sqlite3_prepare_v2(db, "SELECT v.key, s.id FROM vkeys v JOIN subjects s ON s.n=v.subj"
                         " WHERE s.n=? AND v.en=? AND v.creator=(SELECT n FROM nodes WHERE id=?)", -1, &k, NULL);
  while (sqlite3_step(c) == SQLITE_ROW) {
    const uint8_t *origin = sqlite3_column_blob(c, 1);
    uint64_t seq = (uint64_t)sqlite3_column_int64(c, 2), hlc = (uint64_t)sqlite3_column_int64(c, 3);
    size_t hlen = (size_t)sqlite3_column_int(c, 4), nops = (size_t)sqlite3_column_int(c, 5);
    long cw = 1 + binp(hlen) + (long)hlen + 2 + 64 + arrp(nops);
    uint8_t nonce[KR_NONCE_LEN];
    kr_nodes tab;
    void *tm;
    if (kr_change_header_ctx(sqlite3_column_blob(c, 6), hlen, nonce, &tab, &tm))
      return fprintf(stderr, "bad header\n"), 1;
    changes++;
    add("change: array(3), header bin, signature bin(64), ops array", cw - (long)hlen);
    add("header: version, origin, seq, hlc, nonce bin(16), root bin(32)",
        1 + 1 + 34 + uintn(seq) + uintn(hlc) + 18 + 34);
    add("header: node table", arrp(tab.n) + 34.0 * tab.n);
    sqlite3_bind_int64(o, 1, sqlite3_column_int64(c, 0));
    while (sqlite3_step(o) == SQLITE_ROW) {
      const uint8_t *b = sqlite3_column_blob(o, 1);
      size_t len = (size_t)sqlite3_column_bytes(o, 1);
      uint32_t place = (uint32_t)sqlite3_column_int(o, 0);
      kr_op op, g;
      void *mem;
      double keys;
      cw += binp(len) + (long)len;
      add("op: bin wrapper in the ops array", binp(len));
      if (kr_op_parse(b, len, &tab, &op, &mem) || !KR_OP_IS_RECORD(op.type))
        return fprintf(stderr, "bad op\n"), 1;
      vols += op.type == KR_OP_REGREC;
      keys = arrp(2 * (size_t)op.nkeys);
      for (uint32_t e = 0; e < op.nkeys; e++) keys += uintn(no_of(&tab, op.keys[e].reader)) + 2 + 48;
      add("record: array, type, epoch, creator number", arrp(6) + 1 + uintn(op.epoch) +
          uintn(no_of(&tab, op.creator)));
      add("record: subject bin(16) (none when registering)", op.type == KR_OP_RECORD ? 18 : 0);
      add("record: keys, per reader: number, bin(48) (key 32, tag 16)", keys);
      if (!op.box) {
        add("record: no box (nil)", 1);
      } else {
        kr_buf plain;
        kr_op *in;
        uint32_t nin;
        void *m2;
        double vals = 0;
        add("record: box prefix, Poly1305 tag 16 (nonce derived)", binp(op.box_len) + 16);
        sqlite3_bind_int64(k, 1, sqlite3_column_int64(o, 2));
        sqlite3_bind_int64(k, 2, (sqlite3_int64)op.epoch);
        sqlite3_bind_blob(k, 3, op.creator, 32, SQLITE_STATIC);
        if (sqlite3_step(k) != SQLITE_ROW) return fprintf(stderr, "no key\n"), 1;
        memcpy(op.subject, sqlite3_column_blob(k, 1), 16);  /* a registering record names none */
        kr_record_group(&op, &g);
        kr_buf_init(&plain, KR_CHANGE_MAX);
        if (kr_group_open(sqlite3_column_blob(k, 0), net, origin, seq, nonce, place, &g, &plain) ||
            kr_group_decode(plain.data, plain.len, g.subject, &tab, &in, &nin, &m2))
          return fprintf(stderr, "box does not open\n"), 1;
        sqlite3_reset(k);
        for (uint32_t j = 0; j < nin; j++) {
          kr_op *y = &in[j];
          size_t vl = y->value ? strlen(y->value) : 0;
          if (y->type == KR_OP_SET || y->type == KR_OP_ADD || y->type == KR_OP_REMOVE) vals += (double)vl;
        }
        raw += (long)vals;
        add("plain: the values (raw field data)", vals);
        add("plain: codes, str prefixes, grants", (double)plain.len - vals);
        free(m2);
        kr_buf_free(&plain);
      }
      free(mem);
    }
    sqlite3_reset(o);
    wire += cw;
    free(tm);
  }
  printf("%ld changes, %ld volunteers, wire %ld bytes (%.2f per volunteer), raw %ld (%.3f), %.3fx\n",
         changes, vols, wire, (double)wire / vols, raw, (double)raw / vols, (double)wire / raw);
  {
    double sum = 0;
    for (int i = 0; i < nparts; i++) {
      sum += part[i];
      printf("%8.2f  %s\n", part[i] / vols, pname[i]);
    }
    printf("%8.2f  total (%s)\n", sum / vols, (long)(sum + 0.5) == wire ? "equals the wire" : "MISMATCH");
  }
  sqlite3_close(db);
  return 0;
}
