/* prioq - a binary min-heap of (time, id) pairs, earliest time first.
 * The caller owns the prioq and frees it with prioq_free(). prioq_insert
 * returns 1, or 0 with errno ENOMEM/ERANGE (the heap is then unchanged).
 * prioq_min returns 1 and copies the earliest element, 0 when empty. */
#ifndef PRIOQ_H
#define PRIOQ_H

#include <stddef.h>
#include <time.h>

typedef struct prioq_elt {
  time_t dt;
  unsigned long id;
} prioq_elt;

typedef struct prioq {
  prioq_elt *p;
  size_t len;
  size_t a;
} prioq;

#define PRIOQ_ZERO { 0, 0, 0 }

int prioq_insert(prioq *q, const prioq_elt *e);
int prioq_min(const prioq *q, prioq_elt *e);
void prioq_delmin(prioq *q);
/* prioq_setall - give every element the time dt (the heap stays valid) */
void prioq_setall(prioq *q, time_t dt);
void prioq_free(prioq *q);

#endif
