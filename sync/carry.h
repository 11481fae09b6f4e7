/*
 * carry: bundles as files. Export writes the changes a peer lacks (by its
 * last known vector) or all changes, encrypted for the current members
 * and signed; import checks, decrypts, verifies and applies a bundle in
 * one transaction and records what the exporter held. Nothing of a bundle
 * that fails any check is stored.
 */
#ifndef KR_CARRY_H
#define KR_CARRY_H

#include <stdint.h>

#include "node/node.h"

/* Called now and then during long work: done of total changes. */
typedef void (*kr_progress_fn)(void *ctx, uint64_t done, uint64_t total);

typedef struct {
  uint64_t changes;
  uint64_t bytes;            /* file size */
  uint32_t recipients;
} kr_export_result;

/* for_node NULL: every change held. The file appears whole or not at all
 * (written beside it, then renamed). */
int kr_bundle_export(kr_node *n, const char *path, const uint8_t *for_node,
                     kr_progress_fn progress, void *pctx, kr_export_result *res);

typedef struct {
  uint8_t exporter[KR_NODE_LEN];
  uint64_t created_ms;
  uint64_t total;            /* changes in the bundle */
  uint64_t applied, known, refused;
  uint64_t held;                /* kept aside: stamped ahead of this clock (kring status) */
  int refusal;               /* the first refusal's kr_err, 0 if none */
  uint8_t refused_origin[KR_NODE_LEN];
  uint64_t refused_seq;
  int exporter_removed;      /* the exporter was removed by this import */
} kr_import_result;

int kr_bundle_import(kr_node *n, const char *path, kr_progress_fn progress, void *pctx,
                     kr_import_result *res);

#endif
