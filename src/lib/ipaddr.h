/* ipaddr - an IPv4 or IPv6 address with its family, and its text forms.
 * ipaddr_scan parses dotted IPv4 or IPv6 text (n bytes, no NUL needed) and
 * returns 1, or 0 when the text is not an address. ipaddr_fmt writes the
 * usual text form plus a NUL into s (IPADDR_FMT bytes) and returns its length
 * without the NUL. ipaddr_sockaddr fills a sockaddr for connect(). */
#ifndef IPADDR_H
#define IPADDR_H

#include <stddef.h>
#include <sys/socket.h>

#define IPADDR_FMT 48

struct ipaddr {
  int af;                 /* AF_INET or AF_INET6 */
  unsigned char a[16];    /* IPv4 uses a[0..3] */
};

int ipaddr_scan(struct ipaddr *ip, const char *s, size_t n);
size_t ipaddr_fmt(char *s, const struct ipaddr *ip);
int ipaddr_equal(const struct ipaddr *x, const struct ipaddr *y);
socklen_t ipaddr_sockaddr(struct sockaddr_storage *ss, const struct ipaddr *ip, unsigned port);
int ipaddr_from_sockaddr(struct ipaddr *ip, const struct sockaddr *sa);

#endif
