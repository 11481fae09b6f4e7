/*
 * reason: the sentences sync/ builds from pieces, for a translation. A
 * session's reason (kr_link_info.reason, the ERR frame a peer sends, the
 * address book's last error) is one English line, which is what JSON,
 * the serve log and peers get; cli/ shows it in the user's language by
 * finding the format below that made it, translating that format (which
 * may put the pieces in another order) and each piece that is a text of
 * its own (cli_reason). A reason without pieces is translated as it is.
 * Every format sync/ marks with N_() (node/i18n.h) is in this list:
 * tests/po/test_po.sh checks that.
 */
#ifndef KR_REASON_H
#define KR_REASON_H

/* NULL-terminated: the formats, then libuv's words for the failures a
 * person meets (uv_strerror), which come into reasons as pieces. */
extern const char *const kr_sync_reasons[];

#endif
