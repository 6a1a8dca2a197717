#include <errno.h>
#include <stdlib.h>

#include "prioq.h"
#include "grow.h"
#include "sa.h"

/* room - room for one more element */
static int room(prioq *q)
{
  prioq_elt *t = grow(q->p, &q->a, q->len + 1, sizeof *t);
  if (!t) return 0;
  q->p = t;
  return 1;
}

int prioq_insert(prioq *q, const prioq_elt *e)
{
  size_t i;

  if (!room(q)) return 0;
  i = q->len++;
  while (i) {                      /* sift up */
    size_t parent = (i - 1) / 2;
    if (q->p[parent].dt <= e->dt) break;
    q->p[i] = q->p[parent];
    i = parent;
  }
  q->p[i] = *e;
  return 1;
}

int prioq_min(const prioq *q, prioq_elt *e)
{
  if (!q->len) return 0;
  *e = q->p[0];
  return 1;
}

void prioq_delmin(prioq *q)
{
  prioq_elt last;
  size_t i, n;

  if (!q->len) return;
  n = --q->len;
  if (!n) return;
  last = q->p[n];
  i = 0;
  for (;;) {                       /* sift the old last element down */
    size_t c = 2 * i + 1;
    if (c >= n) break;
    if (c + 1 < n && q->p[c + 1].dt < q->p[c].dt) ++c;
    if (last.dt <= q->p[c].dt) break;
    q->p[i] = q->p[c];
    i = c;
  }
  q->p[i] = last;
}

void prioq_setall(prioq *q, time_t dt)
{
  size_t i;
  for (i = 0; i < q->len; ++i) q->p[i].dt = dt;
}

void prioq_free(prioq *q)
{
  free(q->p);
  q->p = 0;
  q->len = 0;
  q->a = 0;
}
