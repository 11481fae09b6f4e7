/*
 * bundle: the file format that carries changes between nodes without a
 * network (a USB stick, a mail attachment). docs/protocol.md gives the
 * bytes; in short:
 *
 *   "KRINGBN1" | u32 header length | header (canonical msgpack)
 *   | chunks: u32 length | XChaCha20-Poly1305 secretstream ciphertext
 *   | u32 0 | Ed25519 signature of the exporter
 *
 * The header names the network, the exporter, the exporter's version
 * vector, the number of changes, and per current member the random file
 * key sealed (crypto_box_seal) for that member's X25519 key. Each chunk
 * holds whole changes, each as u32 length | change bytes; the last chunk
 * carries the secretstream FINAL tag, so a truncated body is detected. The
 * signature covers a BLAKE2b-512 hash of every byte before it.
 *
 * Reading and writing go through callbacks, so the format code knows
 * nothing of files; sizes are capped before anything is allocated.
 */
#ifndef KR_BUNDLE_H
#define KR_BUNDLE_H

#include <stddef.h>
#include <stdint.h>

#include <sodium.h>

#include "crdt/buf.h"
#include "crdt/vv.h"

#define KR_BUNDLE_MAGIC      "KRINGBN1"
/* The header's first element. 2: bundles of changes of format 4 (a kring
 * that reads version 1 holds format-3 changes). */
#define KR_BUNDLE_VERSION    3
#define KR_BUNDLE_HEADER_MAX (1u << 20)        /* bytes of the header */
#define KR_BUNDLE_CHUNK_MAX  (2u << 20)        /* plaintext bytes of one chunk */
#define KR_BUNDLE_CHUNK_AIM  (256u << 10)      /* a writer closes a chunk past this */
#define KR_BUNDLE_RCPT_MAX   4096u             /* recipients */
#define KR_SEALED_LEN        (32 + crypto_box_SEALBYTES)

/* Read up to n bytes; returns the count (0 at the end) or a negative kr_err. */
typedef long (*kr_read_fn)(void *ctx, void *buf, size_t n);
/* Write all n bytes; 0 or a negative kr_err. */
typedef int (*kr_write_fn)(void *ctx, const void *buf, size_t n);

typedef struct {
  uint8_t network[KR_NETWORK_LEN];
  uint8_t exporter[KR_NODE_LEN];
  uint64_t created_ms;
  int has_for;
  uint8_t for_node[KR_NODE_LEN];
  kr_vv vector;                    /* what the exporter held */
  uint64_t count;                  /* changes in the bundle */
  uint32_t nrcpt;
  uint8_t (*rcpt)[KR_NODE_LEN];    /* ascending */
  uint8_t (*sealed)[KR_SEALED_LEN];
  uint8_t ss_header[crypto_secretstream_xchacha20poly1305_HEADERBYTES];
} kr_bundle_hdr;

typedef struct {
  kr_bundle_hdr h;
  uint8_t ad[32];                  /* BLAKE2b-256 of magic, length and header */
  crypto_generichash_state hash;   /* every byte so far, for the signature */
  crypto_secretstream_xchacha20poly1305_state ss;
  int unlocked, final_seen;
  uint64_t bytes;                  /* read so far */
  uint8_t *cbuf;                   /* one ciphertext chunk */
} kr_bundle_reader;

/* Read and decode the header. The reader must be released with
 * kr_bundle_reader_free() whatever the result. */
int kr_bundle_read_header(kr_bundle_reader *r, kr_read_fn rd, void *ctx);
/* Open the file key sealed for the node whose Ed25519 secret key is sk
 * (KR_ENOKEY if the bundle was not made for it). */
int kr_bundle_unlock(kr_bundle_reader *r, const uint8_t sk[static 64]);
/*
 * The next chunk's plaintext into plain (replacing its contents). At the
 * end of the chunks it reads the signature and checks it, checks that the
 * file ends there, and sets *end. Any damage is an error.
 */
int kr_bundle_read_chunk(kr_bundle_reader *r, kr_read_fn rd, void *ctx, kr_buf *plain, int *end);
/* Walk the changes in a chunk: *off starts at 0; 0 with *chg NULL at the end. */
int kr_bundle_next_change(const kr_buf *plain, size_t *off, const uint8_t **chg, size_t *len);
void kr_bundle_reader_free(kr_bundle_reader *r);

typedef struct {
  kr_write_fn wr;
  void *ctx;
  const uint8_t *sk;               /* borrowed, not copied: the node's guarded key */
  uint8_t ad[32];
  crypto_generichash_state hash;
  crypto_secretstream_xchacha20poly1305_state ss;
  kr_buf pending;                  /* plaintext of the chunk being filled */
  uint8_t *cbuf;
  uint64_t written;
} kr_bundle_writer;

/*
 * Start a bundle from the node with Ed25519 secret key sk, for the given
 * recipients (their node ids; sorted and deduplicated here). for_node may
 * be NULL. count is the number of changes that will follow. sk is used in
 * place, not copied: it must stay valid until kr_bundle_writer_free.
 */
int kr_bundle_write_begin(kr_bundle_writer *w, const uint8_t sk[static 64],
                          const uint8_t network[static KR_NETWORK_LEN], const uint8_t *for_node,
                          const kr_vv *vector, uint64_t count, uint64_t created_ms,
                          const uint8_t (*rcpt)[KR_NODE_LEN], uint32_t nrcpt,
                          kr_write_fn wr, void *ctx);
int kr_bundle_write_change(kr_bundle_writer *w, const uint8_t *chg, size_t len);
/* Close the last chunk and sign. */
int kr_bundle_write_end(kr_bundle_writer *w);
void kr_bundle_writer_free(kr_bundle_writer *w);

#endif
