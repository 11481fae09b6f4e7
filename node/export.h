/*
 * export: the record of data leaving kring (node/export.c). Every sheet
 * `kring export` writes is recorded in this node's store, locally (it is
 * not replicated): who, when, which fields, how many volunteers, which
 * file. `kring log --exports` shows it. The accountability an
 * organisation needs (GDPR art. 5(2)) when personal data leaves kring.
 */
#ifndef KR_NODE_EXPORT_H
#define KR_NODE_EXPORT_H

#include <stdint.h>

#include "node/node.h"

typedef struct {
  uint64_t at_ms;              /* when (wall clock, ms since the epoch) */
  const char *user;            /* the operating-system user who ran it */
  const char *format;          /* csv, xlsx */
  const char *fields;          /* the fields written, comma-separated */
  const char *filter;          /* the selection (--skill ... --consent), "" for all */
  uint64_t count;              /* volunteers written */
  const char *file;            /* the file written (absolute path) */
} kr_export_rec;

/* Record one export. 0, or a kr_ error (KR_EREADONLY on a read-only store). */
int kr_node_export_record(kr_node *n, const kr_export_rec *r);

typedef int (*kr_export_cb)(void *ctx, const kr_export_rec *r);
/* Every export recorded, oldest first; stops at cb's non-zero return. */
int kr_node_exports(kr_node *n, kr_export_cb cb, void *ctx);

#endif
