#include <errno.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "ipme.h"
#include "grow.h"
#include "sa.h"

/* add - append ip unless it is listed already; 1, or 0 with errno set */
static int add(ipme *me, const struct ipaddr *ip)
{
  struct ipaddr *x;
  if (ipme_is(me, ip)) return 1;
  if (!(x = grow(me->x, &me->a, me->len + 1, sizeof *x))) return 0;
  me->x = x;
  me->x[me->len++] = *ip;
  return 1;
}

int ipme_init(ipme *me)
{
  struct ifaddrs *ifa, *i;
  struct ipaddr ip;
  int ok = 1;

  me->len = 0;
  memset(&ip, 0, sizeof ip);
  ip.af = AF_INET;                       /* 0.0.0.0: "this host" (RFC 1122) */
  if (!add(me, &ip)) return 0;
  ip.af = AF_INET6;                      /* :: */
  if (!add(me, &ip)) return 0;
  if (getifaddrs(&ifa) == -1) return 0;
  for (i = ifa; i && ok; i = i->ifa_next)
    if (i->ifa_addr && ipaddr_from_sockaddr(&ip, i->ifa_addr))
      ok = add(me, &ip);
  freeifaddrs(ifa);
  return ok;
}

int ipme_is(const ipme *me, const struct ipaddr *ip)
{
  size_t i;
  for (i = 0; i < me->len; ++i) if (ipaddr_equal(&me->x[i], ip)) return 1;
  return 0;
}

void ipme_free(ipme *me)
{
  free(me->x);
  me->x = 0;
  me->len = me->a = 0;
}
