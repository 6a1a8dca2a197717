/* rewrite - qmail-send's envelope address rewriting (qmail-send(8),
 * envelopes(5)).
 * rewrite_rcpt: a recipient without @ gets @envnoathost; the percent hack
 * applies for domains in percenthack; a domain in locals is local as is;
 * else the first virtualdomains entry that matches (user@domain, domain,
 * .suffix, then the empty wildcard) makes it local as prepend-address,
 * unless its prepend is empty. The empty recipient stays empty and local
 * (qmail-lspawn refuses it). Writes the address to out (no NUL) and returns
 * REWRITE_LOCAL or REWRITE_REMOTE, or 0 with errno set (out of memory).
 * rewrite_verp: the sender to use for one recipient: a sender
 * pre-@host-@[] becomes pre-box=domain@host for recipient box@domain.
 * rewrite_unprepend: the recipient as the sender wrote it, with the
 * virtualdomains prepend taken off again (for bounces); points into recip.
 * rewrite_readmaps: the maps rewrite_rcpt uses, from control/locals (me
 * when missing or empty), control/percenthack and control/virtualdomains
 * in the current directory; qmail-send and qmail-smtpd (for its RCPT
 * check) read them with this. 1, or 0 with errno set (nothing to free). */
#ifndef REWRITE_H
#define REWRITE_H

#include <stddef.h>

#include "cmap.h"
#include "sa.h"

#define REWRITE_LOCAL 1
#define REWRITE_REMOTE 2

typedef struct rewrite_ctl {
  const char *envnoathost;
  const cmap *percenthack;
  const cmap *locals;
  const cmap *vdoms;
} rewrite_ctl;

int rewrite_rcpt(sa *out, const char *r, size_t len, const rewrite_ctl *c);
int rewrite_verp(sa *out, const char *sender, const char *recip);
int rewrite_readmaps(cmap *locals, cmap *pct, cmap *vd, const sa *me);
const char *rewrite_unprepend(const char *recip, const cmap *vdoms);

#endif
