#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>

#include "ipaddr.h"

int ipaddr_scan(struct ipaddr *ip, const char *s, size_t n)
{
  char buf[IPADDR_FMT];

  if (!n || n >= sizeof buf) return 0;
  memcpy(buf, s, n);
  buf[n] = 0;
  memset(ip->a, 0, sizeof ip->a);
  if (inet_pton(AF_INET, buf, ip->a) == 1) { ip->af = AF_INET; return 1; }
  if (inet_pton(AF_INET6, buf, ip->a) == 1) { ip->af = AF_INET6; return 1; }
  return 0;
}

size_t ipaddr_fmt(char *s, const struct ipaddr *ip)
{
  if (!inet_ntop(ip->af == AF_INET6 ? AF_INET6 : AF_INET, ip->a, s, IPADDR_FMT)) {
    strcpy(s, "?");
    return 1;
  }
  return strlen(s);
}

int ipaddr_equal(const struct ipaddr *x, const struct ipaddr *y)
{
  if (x->af != y->af) return 0;
  return memcmp(x->a, y->a, x->af == AF_INET6 ? 16 : 4) == 0;
}

socklen_t ipaddr_sockaddr(struct sockaddr_storage *ss, const struct ipaddr *ip, unsigned port)
{
  memset(ss, 0, sizeof *ss);
  if (ip->af == AF_INET6) {
    struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
    s6->sin6_family = AF_INET6;
    s6->sin6_port = htons((unsigned short)port);
    memcpy(&s6->sin6_addr, ip->a, 16);
    return sizeof *s6;
  } else {
    struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
    s4->sin_family = AF_INET;
    s4->sin_port = htons((unsigned short)port);
    memcpy(&s4->sin_addr, ip->a, 4);
    return sizeof *s4;
  }
}

int ipaddr_from_sockaddr(struct ipaddr *ip, const struct sockaddr *sa)
{
  memset(ip->a, 0, sizeof ip->a);
  if (sa->sa_family == AF_INET) {
    ip->af = AF_INET;
    memcpy(ip->a, &((const struct sockaddr_in *)sa)->sin_addr, 4);
    return 1;
  }
  if (sa->sa_family == AF_INET6) {
    ip->af = AF_INET6;
    memcpy(ip->a, &((const struct sockaddr_in6 *)sa)->sin6_addr, 16);
    return 1;
  }
  return 0;
}
