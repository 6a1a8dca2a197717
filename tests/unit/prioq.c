#include <stdlib.h>

#include "harness.h"
#include "prioq.h"

TEST(prioq_orders_by_time)
{
  prioq q = PRIOQ_ZERO;
  prioq_elt e;
  time_t last;
  unsigned long i;
  int ok = 1;

  CHECK(!prioq_min(&q, &e));
  srand(7);
  for (i = 0; i < 5000; ++i) {
    e.dt = rand() % 1000;
    e.id = i;
    CHECK(prioq_insert(&q, &e));
  }
  CHECK(q.len == 5000);
  last = -1;
  for (i = 0; i < 5000; ++i) {
    if (!prioq_min(&q, &e)) { ok = 0; break; }
    if (e.dt < last) ok = 0;
    last = e.dt;
    prioq_delmin(&q);
  }
  CHECK(ok);
  CHECK(q.len == 0);
  CHECK(!prioq_min(&q, &e));
  prioq_delmin(&q);   /* harmless on empty */
  prioq_free(&q);
}

TEST(prioq_setall_keeps_everything)
{
  prioq q = PRIOQ_ZERO;
  prioq_elt e;
  unsigned long seen = 0, i;

  for (i = 1; i <= 10; ++i) {
    e.dt = 100 - (time_t)i;
    e.id = i;
    CHECK(prioq_insert(&q, &e));
  }
  prioq_setall(&q, 5);
  while (prioq_min(&q, &e)) {
    CHECK(e.dt == 5);
    seen |= 1UL << e.id;
    prioq_delmin(&q);
  }
  CHECK(seen == 0x7fe);
  prioq_free(&q);
}
