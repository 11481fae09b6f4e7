/*
 * i18n: texts for a person that node/ and sync/ give in English. These
 * libraries do not translate (no gettext here, and crdt/ stays pure):
 * N_() only marks a literal for xgettext (po/POTFILES), and cli/ looks
 * the English up in the catalogue where it prints it (cli_why,
 * cli_reason). The English is what JSON, logs, the store and peers get.
 * A reason built from pieces is one whole sentence with N_() on its
 * format, so that a translation can put the pieces in its own order.
 */
#ifndef KR_I18N_H
#define KR_I18N_H

#ifndef N_
#define N_(s) s
#endif

#endif
