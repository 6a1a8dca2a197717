/* ipme - the addresses of this host, from getifaddrs(3), plus 0.0.0.0 and
 * :: which always mean this host. ipme_init returns 1, or 0 with errno set
 * (a temporary failure); the caller frees the list with ipme_free. */
#ifndef IPME_H
#define IPME_H

#include <stddef.h>

#include "ipaddr.h"

typedef struct ipme {
  struct ipaddr *x;
  size_t len;
  size_t a;
} ipme;

#define IPME_ZERO { 0, 0, 0 }

int ipme_init(ipme *me);
int ipme_is(const ipme *me, const struct ipaddr *ip);
void ipme_free(ipme *me);

#endif
