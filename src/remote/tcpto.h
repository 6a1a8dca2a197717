/* tcpto - remember SMTP hosts whose connections time out, in
 * queue/lock/tcpto (paths relative to the qmail home).
 * The file is 1024 bytes: 64 slots of 16 bytes, read and written under an
 * exclusive flock. An IPv4 entry is qmail's own record, so the table can
 * be shared with qmail: bytes 0-3 the address, byte 4 the number of recent
 * timeouts (0 = free slot, at most 10), bytes 8-11 the time of the last
 * timeout (little-endian seconds). An IPv6 entry takes an even-aligned
 * pair of slots with byte 4 zero in both (qmail sees them as free): the
 * first has byte 5 = '6', byte 6 the count, bytes 8-11 the time, and
 * address bytes 0-3 and 4-7 in bytes 0-3 and 12-15; the second has byte
 * 5 = '7' and address bytes 8-11 and 12-15 in its bytes 0-3 and 12-15.
 * Errors reading or writing the table are ignored: it is only a hint. */
#ifndef TCPTO_H
#define TCPTO_H

#include <stddef.h>
#include <time.h>

#include "ipaddr.h"

#define TCPTO_FILE "queue/lock/tcpto"
#define TCPTO_SIZE 1024

struct tcpto_entry {
  struct ipaddr ip;
  unsigned count;
  unsigned long when;
  size_t slot;
  size_t nslots;
};

/* tcpto_skip - 1 when ip timed out at least twice and the last time less
 * than about an hour (64 to 95 minutes, by pid) ago */
int tcpto_skip(const struct ipaddr *ip);

/* tcpto_err - record a connection result: flagerr 1 for a timeout (counted
 * at most once in two minutes), 0 for anything else (forgets ip) */
void tcpto_err(const struct ipaddr *ip, int flagerr);

/* tcpto_parse - the live entries of a table buffer; returns how many */
size_t tcpto_parse(const unsigned char *buf, size_t len, struct tcpto_entry *e, size_t max);

/* tcpto_update - apply tcpto_err's rule to buf at time now; returns the
 * first slot changed and sets *n to the count of slots, or -1 if none */
long tcpto_update(unsigned char *buf, size_t len, const struct ipaddr *ip, int flagerr, unsigned long now, size_t *n);

#endif
