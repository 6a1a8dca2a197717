/* spawnproto - the wire format between qmail-send and its spawners,
 * qmail-lspawn and qmail-rspawn (doc/scheduler.md). Every field ends in NUL:
 *   spawner -> send, once:      limit
 *   send -> spawner, each job:  slot  N/id  sender  count  recip1 ... recipN
 *   spawner -> send, each rcpt: slot  index  report
 * limit, slot, count and index are decimal; slot < limit; 1 <= count <=
 * SPAWNPROTO_MAXRCPT; index < count names the recipient, and every one of
 * them gets exactly one report, in any order; the slot is free again when
 * all count reports are back. N/id is relative to queue/mess; the report is
 * K (delivered), Z (try again later) or D (failed for good) followed by
 * text. Formatters append to out and return 1, or 0 with errno.
 * spawnrd collects NUL-terminated fields of one record with a cap on each
 * field; bytes past the cap are dropped and toolong is set. */
#ifndef SPAWNPROTO_H
#define SPAWNPROTO_H

#include <stddef.h>

#include "sa.h"

#define SPAWNRD_FIELDS 4
#define SPAWNPROTO_MAXRCPT 1000   /* recipients in one job */

typedef struct spawnrd {
  sa f[SPAWNRD_FIELDS];     /* each holds its bytes and a trailing NUL */
  size_t max[SPAWNRD_FIELDS];
  unsigned nf;
  unsigned cur;
  int toolong;
  int nomem;
} spawnrd;

int spawnproto_hello(sa *out, unsigned long limit);
/* spawnproto_cmd - recips holds n recipients, each ending in NUL, rlen
 * bytes in all */
int spawnproto_cmd(sa *out, unsigned long slot, const char *messfn,
                   const char *sender, size_t slen,
                   const char *recips, size_t rlen, unsigned long n);
/* spawnproto_report - the report stops at its first NUL, if any */
int spawnproto_report(sa *out, unsigned long slot, unsigned long idx,
                      const char *report, size_t len);

/* spawnproto_num - a decimal field into *u; 1 ok, 0 not a number */
int spawnproto_num(const sa *field, unsigned long *u);

void spawnrd_init(spawnrd *r, unsigned nf, const size_t *max);
/* spawnrd_feed - take bytes until a record is complete; returns how many
 * it took and sets *done to 1 when all nf fields are in. */
size_t spawnrd_feed(spawnrd *r, const char *buf, size_t len, int *done);
void spawnrd_reset(spawnrd *r);    /* ready for the next record */
void spawnrd_free(spawnrd *r);

#endif
