/*
 * check: the little the unit tests need. CHECK(cond) reports file:line and
 * fails the test at exit; CHECK_EQ for integers. Each test program is its
 * own process, run by ctest with a timeout.
 */
#ifndef KR_CHECK_H
#define KR_CHECK_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

extern int check_failures;

#define CHECK(c) do { if (!(c)) { check_failures++; \
  fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #c); } } while (0)
#define CHECK_EQ(a, b) do { long long a_ = (long long)(a), b_ = (long long)(b); if (a_ != b_) { \
  check_failures++; fprintf(stderr, "%s:%d: CHECK_EQ failed: %s = %lld, %s = %lld\n", \
  __FILE__, __LINE__, #a, a_, #b, b_); } } while (0)
#define REQUIRE(c) do { if (!(c)) { fprintf(stderr, "%s:%d: REQUIRE failed: %s\n", \
  __FILE__, __LINE__, #c); exit(1); } } while (0)

/* A fresh directory under $TMPDIR, removed by check_done(). */
const char *check_tmpdir(void);
/* A path inside the test's directory (static buffer ring). */
const char *check_path(const char *name);
/* Print a summary, remove the directory, and return the exit status. */
int check_done(const char *name);

/* A deterministic clock for nodes: starts at 2026-01-01, +1 ms per read. */
uint64_t check_clock(void *ctx);

#include "node/node.h"

/* Apply every change from holds that to lacks (through kr_lacks);
 * returns how many were new. */
size_t check_sync(kr_node *from, kr_node *to);
/* k foodbank nodes of a network (check_network), each on a test clock of
 * its own starting at 2026-01-01: check_clk[check_nclk - k + i] is node
 * i's, which a test may move. Every node syncs with every other twice
 * (check_syncall); check_closeall closes them. */
extern uint64_t check_clk[256];
extern int check_nclk;
void check_net(kr_node **nodes, int k, const char *prefix);
void check_syncall(kr_node **nodes, int k);
void check_closeall(kr_node **nodes, int k);
/* 1 when the two nodes hold the same changes (kr_node_digest). */
int check_same_digest(kr_node *a, kr_node *b);
/* 1 when the two nodes read the same state (kr_node_digest_readable): for
 * nodes with the same rights. */
int check_same_readable(kr_node *a, kr_node *b);
/* 1 when the file at path holds needle (0 also when there is no file). */
int check_file_has(const char *path, const char *needle);
/* 1 when a node's files in home (kring.db, -wal, -shm) hold needle. */
int check_home_holds(const char *home, const char *needle);
/* Give n a clock of its own that starts where like's is now (nodes made
 * outside check_network read the wall clock, and clocks more than 10
 * minutes apart do not sync). */
void check_same_clock(kr_node *n, kr_node *like);
/* by admits node with the invite numbered invite (the same number is the
 * same invite: its key pair comes from it), with the invite holder's proof. */
int check_admit(kr_node *by, const uint8_t node[32], const char *org, const char *kind,
                uint8_t invite);
/* The id of the invite numbered invite. */
void check_invite_id(uint8_t invite, uint8_t id[16]);
/* k nodes in one network under check_path(prefix N): node 0 founds it and
 * admits the others, which then hold its changes. */
void check_network(kr_node **nodes, int k, const char *prefix, const char *kind);
/* The nonce of every change the tests build by hand (kr_change_build):
 * what check_seal_key and check_build_sealed seal under. (A node draws a
 * fresh one per change; tests need one they can name.) */
extern const uint8_t check_nonce[KR_NONCE_LEN];
/* Seal key in the KEY part op (subject, epoch, creator, member set) as a
 * change of from seals it at place and op->slot (under check_nonce; slot
 * 0 is taken as 1, the first key entry of its record), under the key from
 * shares with node to (the op's member, or another node to seal it
 * wrongly): op->box = box. */
void check_seal_key(kr_node *from, const uint8_t to[32], uint32_t place, kr_op *op,
                    const uint8_t key[32], uint8_t box[KR_SEALED_KEY_LEN]);
/*
 * kr_change_build of a change made by hand from parts (the ops a node
 * handles, docs/protocol.md "Records"): each run of consecutive KEY parts
 * and at most one GROUP part (last) of one (subject, epoch, creator) is
 * one record, key entries in their order (which must be by reader
 * number); a REGISTER a registering record, bare or with the run on its
 * subject that follows it (its subject must be the one kr_subject_derive
 * gives for origin, nonce and the registrations before it). Other ops as
 * they are. A record's place is its index in the change: the parts must
 * be sealed there (a key entry at slot 1 + its index in the record). A KEY
 * part whose box is not a sealed key gives KR_EINVAL.
 */
int check_change_build(const uint8_t sk[64], uint64_t seq, kr_hlc hlc, const uint8_t *nonce,
                       const kr_op *ops, uint32_t nops, kr_buf *out);
/* A new volunteer id only n can register (kr_subject_derive under a nonce of its own), remembered
 * for check_build_sealed. */
void check_new_subject(kr_node *n, uint8_t subject[KR_SUBJECT_LEN]);
/*
 * A change of format 2 made by hand, as a modified member could sign it:
 * n's change seq, stamped hlc, whose ops (types 1-5, all on one subject)
 * travel in one group sealed under a fresh epoch of n, the epoch's key
 * sealed to each of readers (a NULL-ended list of at most 4, or NULL for
 * none: then no node can open it), each named in the group by a consent
 * (purpose "test") unless ops hold a grant; registered by this change
 * when fresh (the id made by check_new_subject for n).
 * Appended to out. Nothing is stored on n, which keeps no key of it.
 */
void check_build_sealed(kr_node *n, uint64_t seq, kr_hlc hlc, const kr_op *ops, uint32_t nops,
                        int fresh, kr_node *const *readers, kr_buf *out);

/* m's next change (seq + 1), stamped hlc (0: now), as a hostile member
 * would make it: a record of (v, en, creator) with a key entry for reader
 * (key sealed to it) and a box under key that sets field f = text; m
 * applies it (test_rev6, test_rev9). */
void check_forge_record(kr_node *m, kr_hlc hlc, const uint8_t v[16], uint64_t en,
                        const uint8_t *creator, const uint8_t *reader, const uint8_t key[32], int f,
                        const char *text);

/* n's store, opened read-only beside n (the test reads the file itself);
 * sqlite3_close it. */
struct sqlite3 *check_store(kr_node *n);

#endif
