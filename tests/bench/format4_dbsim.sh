#!/bin/sh
# format4_dbsim: what change format 4 (docs/design/format4.md) would do to a
# reader's database, simulated on a copy. A throwaway measurement for issue
# 18, not run by any test. Usage, after
#   KRING_BENCH_QUICK=1 build/tests/bench_node 2000     (keeps /tmp/kring-bench-XXXX)
#   tests/bench/format4_dbsim.sh /tmp/kring-bench-XXXX/b/kring.db 2000 [WORKDIR]
# It copies the store, VACUUMs it (the baseline), then rewrites the bench's
# changes (n >= 6: the first five are the founder's) as format 4 would
# store them: one ops row per volunteer whose body is a random blob of the
# record's length (a group of format 3 is 96 bytes longer than the
# registering record carrying the same plaintext and key entry; see
# tests/bench/wire_split.c) and a header of 133 bytes; then two store-only
# steps: node ids and tags as numbers, the change stored once. Prints
# dbstat bytes per volunteer after each step (VACUUMed, so comparable).
set -e
B=$1; N=${2:-2000}; W=${3:-$(mktemp -d /tmp/format4-dbsim-XXXXXX)}
cd "$W"
q="SELECT name, round(sum(pgsize)/$N.0,1) FROM dbstat GROUP BY name HAVING sum(pgsize)>8192 ORDER BY 2 DESC;
   SELECT 'TOTAL', round(sum(pgsize)/$N.0,1) FROM dbstat;"
cp "$B" base.db; cp base.db vac.db; sqlite3 vac.db "VACUUM;"
echo "== as written"; sqlite3 base.db "$q"
echo "== vacuumed"; sqlite3 vac.db "$q"
cp vac.db f4.db
sqlite3 f4.db "
CREATE TEMP TABLE g AS SELECT chg, idx, subj, length(body) AS len FROM ops WHERE type=10 AND chg>=6;
DELETE FROM ops WHERE chg>=6;
INSERT INTO ops(chg,idx,subj,rsubject,type,field,body)
  SELECT chg, idx/3, subj, NULL, 15, 0, randomblob(len-96) FROM g;
UPDATE changes SET header=randomblob(133) WHERE n>=6;
VACUUM;"
echo "== format 4"; sqlite3 f4.db "$q"
cp f4.db s1.db
sqlite3 s1.db "
CREATE TABLE k2(subj INTEGER NOT NULL, en INTEGER NOT NULL, creator INTEGER NOT NULL,
  reader INTEGER NOT NULL, hlc INTEGER NOT NULL, origin INTEGER NOT NULL,
  PRIMARY KEY(subj, en, creator, reader, hlc, origin)) WITHOUT ROWID;
INSERT INTO k2 SELECT subj, en, 1, 2, hlc, 1 FROM keyops; DROP TABLE keyops; ALTER TABLE k2 RENAME TO keyops;
CREATE TABLE v2(subj INTEGER NOT NULL, en INTEGER NOT NULL, creator INTEGER NOT NULL,
  key BLOB NOT NULL, got INTEGER NOT NULL, ok INTEGER NOT NULL DEFAULT 0,
  trusted INTEGER NOT NULL DEFAULT 0, PRIMARY KEY(subj, en, creator, key)) WITHOUT ROWID;
INSERT INTO v2 SELECT subj, en, 1, key, got, ok, trusted FROM vkeys; DROP TABLE vkeys; ALTER TABLE v2 RENAME TO vkeys;
CREATE TABLE c2(subj INTEGER NOT NULL, purpose TEXT NOT NULL, recipient INTEGER NOT NULL,
  is_grant INTEGER NOT NULL, method INTEGER NOT NULL, text_version TEXT NOT NULL,
  until TEXT NOT NULL, hlc INTEGER NOT NULL, origin INTEGER NOT NULL, idx INTEGER NOT NULL,
  seq INTEGER NOT NULL, PRIMARY KEY(subj, purpose, recipient, origin, seq, idx)) WITHOUT ROWID;
INSERT INTO c2 SELECT subj, purpose, 2, is_grant, method, text_version, until, hlc, origin, idx, seq
  FROM consent_ops; DROP TABLE consent_ops; ALTER TABLE c2 RENAME TO consent_ops;
CREATE TABLE r2(subj INTEGER PRIMARY KEY, hlc INTEGER NOT NULL, origin INTEGER NOT NULL,
  idx INTEGER NOT NULL);
INSERT INTO r2 SELECT subj, hlc, 1, idx FROM registrations; DROP TABLE registrations;
ALTER TABLE r2 RENAME TO registrations;
VACUUM;"
echo "== format 4, node ids and tags as numbers (store only)"; sqlite3 s1.db "$q"
cp s1.db s3.db
sqlite3 s3.db "
ALTER TABLE changes ADD COLUMN bytes BLOB;
UPDATE changes SET bytes = randomblob((SELECT sum(length(body)) + 2*count(*) + 73 FROM ops
  WHERE chg=changes.n) + length(header)) WHERE n>=6;
CREATE TABLE opsubj(subj INTEGER NOT NULL, chg INTEGER NOT NULL, idx INTEGER NOT NULL,
  PRIMARY KEY(subj, chg, idx)) WITHOUT ROWID;
INSERT INTO opsubj SELECT subj, chg, idx FROM ops WHERE subj IS NOT NULL AND chg>=6;
DELETE FROM ops WHERE chg>=6; VACUUM;"
echo "== format 4, also the change stored once (store only)"; sqlite3 s3.db "$q"
echo "(copies in $W)"
