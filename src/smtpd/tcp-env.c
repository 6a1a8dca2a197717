/* tcp-env - describe the TCP connection on fd 0 in the environment of
 * tcp-environ(5), then run a program: for inetd-style servers. When PROTO
 * is already TCP (tcpserver ran us) everything is taken as set up. */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "fmt.h"
#include "scan.h"
#include "say.h"
#include "str.h"
#include "timeoutconn.h"
#include "tcp-env.h"

static noreturn void usage(void) { die(100, "tcp-env: usage: tcp-env [ -rR ] [ -ttimeout ] program [ arg ... ]\n", NULL); }
static noreturn void die_nomem(void) { die(111, "tcp-env: fatal: out of memory\n", NULL); }

static void setenv_or_die(const char *name, const char *value)
{
  if (setenv(name, value, 1) == -1) die_nomem();
}

/* split - an address's text and port, IPv4-mapped IPv6 shown as IPv4 */
static int split(const struct sockaddr_storage *ss, char *ip, size_t n, unsigned *port)
{
  if (ss->ss_family == AF_INET) {
    const struct sockaddr_in *s4 = (const void *)ss;
    *port = ntohs(s4->sin_port);
    return inet_ntop(AF_INET, &s4->sin_addr, ip, (socklen_t)n) != 0;
  }
  if (ss->ss_family == AF_INET6) {
    const struct sockaddr_in6 *s6 = (const void *)ss;
    *port = ntohs(s6->sin6_port);
    if (IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr))
      return inet_ntop(AF_INET, s6->sin6_addr.s6_addr + 12, ip, (socklen_t)n) != 0;
    return inet_ntop(AF_INET6, &s6->sin6_addr, ip, (socklen_t)n) != 0;
  }
  return 0;
}

/* describe - set NAMEIP, NAMEPORT and NAMEHOST (or unset it) for ss */
static void describe(const char *pre, const struct sockaddr_storage *ss, socklen_t len)
{
  char ip[INET6_ADDRSTRLEN], host[NI_MAXHOST], num[FMT_ULONG], var[32];
  unsigned port;
  size_t n = strlen(pre);

  if (!split(ss, ip, sizeof ip, &port)) die(111, "tcp-env: fatal: not a TCP/IP connection\n", NULL);
  memcpy(var, pre, n);
  strcpy(var + n, "IP"); setenv_or_die(var, ip);
  num[fmt_ulong(num, port)] = 0;
  strcpy(var + n, "PORT"); setenv_or_die(var, num);
  strcpy(var + n, "HOST");
  if (getnameinfo((const struct sockaddr *)ss, len, host, sizeof host, 0, 0, NI_NAMEREQD) == 0) {
    case_lowerb(host, strlen(host));
    setenv_or_die(var, host);
  }
  else unsetenv(var);
}

/* ident - ask the remote host's RFC 1413 server who owns the connection;
 * the user it names goes into info (NUL-terminated, tcp-env-ident.c), or 0
 * is returned */
static int ident(const struct sockaddr_storage *local, const struct sockaddr_storage *remote,
                 socklen_t len, unsigned timeout, char *info, size_t infomax)
{
  struct sockaddr_storage la = *local, ra = *remote;
  char query[2 * FMT_ULONG + 8], reply[1024], ip[INET6_ADDRSTRLEN];
  unsigned lport, rport;
  size_t n = 0, k;
  time_t deadline = time(0) + timeout;
  struct pollfd pf;
  ssize_t r;
  int fd, ok = 0;

  if (!split(local, ip, sizeof ip, &lport) || !split(remote, ip, sizeof ip, &rport)) return 0;
  if (la.ss_family == AF_INET) ((struct sockaddr_in *)(void *)&la)->sin_port = 0;
  else ((struct sockaddr_in6 *)(void *)&la)->sin6_port = 0;
  if (ra.ss_family == AF_INET) ((struct sockaddr_in *)(void *)&ra)->sin_port = htons(113);
  else ((struct sockaddr_in6 *)(void *)&ra)->sin6_port = htons(113);
  fd = socket(ra.ss_family, SOCK_STREAM, 0);
  if (fd == -1) return 0;
  if (bind(fd, (struct sockaddr *)&la, len) == -1) goto done;
  if (timeoutconn(fd, (struct sockaddr *)&ra, len, timeout) == -1) goto done;
  k = fmt_ulong(query, rport);
  k += fmt_str(query + k, " , ");
  k += fmt_ulong(query + k, lport);
  k += fmt_str(query + k, "\r\n");
  if (write(fd, query, k) != (ssize_t)k) goto done;
  while (n < sizeof reply - 1 && !memchr(reply, '\n', n)) {
    time_t now = time(0);
    if (now >= deadline) goto done;
    pf.fd = fd; pf.events = POLLIN; pf.revents = 0;
    if (poll(&pf, 1, (int)(deadline - now) * 1000) <= 0) goto done;
    r = read(fd, reply + n, sizeof reply - 1 - n);
    if (r <= 0) break;
    n += (size_t)r;
  }
  ok = ident_parse(reply, n, rport, lport, info, infomax);
done:
  close(fd);
  return ok;
}

int main(int argc, char **argv)
{
  struct sockaddr_storage local, remote;
  socklen_t llen = sizeof local, rlen = sizeof remote;
  const char *proto = getenv("PROTO");
  unsigned long timeout = 30;
  int flagident = 1, opt;
  char info[1024];

  while ((opt = getopt(argc, argv, "rRt:")) != -1)
    switch (opt) {
      case 'r': flagident = 1; break;
      case 'R': flagident = 0; break;
      case 't': if (!scan_ulong(optarg, &timeout) || optarg[scan_ulong(optarg, &timeout)]) usage(); break;
      default: usage();
    }
  argv += optind;
  if (!*argv) usage();
  if (!proto || strcmp(proto, "TCP")) {
    if (getsockname(0, (struct sockaddr *)&local, &llen) == -1)
      die(111, "tcp-env: fatal: unable to get local address: ", say_errno(), "\n", NULL);
    if (getpeername(0, (struct sockaddr *)&remote, &rlen) == -1)
      die(111, "tcp-env: fatal: unable to get remote address: ", say_errno(), "\n", NULL);
    setenv_or_die("PROTO", "TCP");
    describe("TCPLOCAL", &local, llen);
    describe("TCPREMOTE", &remote, rlen);
    unsetenv("TCPREMOTEINFO");
    if (flagident && timeout && ident(&local, &remote, rlen, (unsigned)(timeout > 3600 ? 3600 : timeout), info, sizeof info))
      setenv_or_die("TCPREMOTEINFO", info);
  }
  execvp(argv[0], argv);
  die(111, "tcp-env: fatal: unable to run ", argv[0], ": ", say_errno(), "\n", NULL);
}
