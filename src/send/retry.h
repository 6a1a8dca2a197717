/* retry - qmail-send's retry schedule (qmail-send(8), doc/scheduler.md).
 * A message born at birth whose delivery failed temporarily at now is next
 * tried at birth + (isqrt(now - birth) + skip)^2, skip 10 for local and 20
 * for remote deliveries. The result saturates instead of overflowing. */
#ifndef RETRY_H
#define RETRY_H

#include <time.h>

#define RETRY_SKIP_LOCAL 10
#define RETRY_SKIP_REMOTE 20

unsigned long retry_isqrt(unsigned long x);   /* largest r with r*r <= x */
time_t retry_next(time_t birth, time_t now, unsigned long skip);

#endif
