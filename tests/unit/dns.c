/* Unit tests for src/mail/dns.c: the packet parser against hostile input,
 * query building, resolv.conf reading, and a real exchange with a forked
 * server on 127.0.0.1 that truncates over UDP and answers over TCP. */
#include <errno.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"
#include "dns.h"

/* a tiny packet builder */
struct pkt { unsigned char b[65536]; size_t n; };

static void u8(struct pkt *p, unsigned v) { p->b[p->n++] = (unsigned char)v; }
static void u16(struct pkt *p, unsigned v) { u8(p, v >> 8); u8(p, v & 255); }
static void u32(struct pkt *p, unsigned long v) { u16(p, (unsigned)(v >> 16)); u16(p, (unsigned)(v & 0xffff)); }
static void name(struct pkt *p, const char *s)
{
  while (*s) {
    size_t l = strcspn(s, ".");
    u8(p, (unsigned)l);
    memcpy(p->b + p->n, s, l);
    p->n += l;
    s += l;
    if (*s == '.') ++s;
  }
  u8(p, 0);
}
static void header(struct pkt *p, unsigned id, unsigned flags, unsigned qd, unsigned an)
{
  p->n = 0;
  u16(p, id); u16(p, flags); u16(p, qd); u16(p, an); u16(p, 0); u16(p, 0);
}
static void question(struct pkt *p, const char *q, unsigned type) { name(p, q); u16(p, type); u16(p, 1); }
static void rrhead(struct pkt *p, unsigned type, unsigned rdlen) { u16(p, type); u16(p, 1); u32(p, 300); u16(p, rdlen); }

/* a good MX answer for example.com with compressed names */
static void mxanswer(struct pkt *p)
{
  header(p, 0x1234, 0x8180, 1, 2);
  question(p, "example.com", DNS_T_MX);       /* name at offset 12 */
  u16(p, 0xc00c); rrhead(p, DNS_T_MX, 2 + 4 + 2); u16(p, 10); u8(p, 3); memcpy(p->b + p->n, "mx1", 3); p->n += 3; u16(p, 0xc00c);
  u16(p, 0xc00c); rrhead(p, DNS_T_MX, 2 + 4 + 2); u16(p, 20); u8(p, 3); memcpy(p->b + p->n, "mx2", 3); p->n += 3; u16(p, 0xc00c);
}

static struct dns_answer ans;

TEST(dns_parse_mx_compressed)
{
  static struct pkt p;
  mxanswer(&p);
  CHECK(dns_parse(p.b, p.n, "example.com", DNS_T_MX, &ans) == 0);
  CHECK(ans.id == 0x1234);
  CHECK(ans.rcode == 0 && !ans.tc);
  CHECK(ans.n == 2);
  CHECK(ans.rr[0].pref == 10 && !strcmp(ans.rr[0].name, "mx1.example.com"));
  CHECK(ans.rr[1].pref == 20 && !strcmp(ans.rr[1].name, "mx2.example.com"));
  CHECK(dns_parse(p.b, p.n, "EXAMPLE.com.", DNS_T_MX, &ans) == 0);   /* case, trailing dot */
  CHECK(dns_parse(p.b, p.n, "example.org", DNS_T_MX, &ans) == -1);   /* not our question */
  CHECK(dns_parse(p.b, p.n, "example.com", DNS_T_A, &ans) == -1);
}

TEST(dns_parse_every_truncation_fails)
{
  static struct pkt p;
  size_t k;
  int bad = 0;
  mxanswer(&p);
  for (k = 0; k < p.n; ++k)
    if (dns_parse(p.b, k, "example.com", DNS_T_MX, &ans) != -1) ++bad;
  CHECK(bad == 0);
  CHECK(errno == EPROTO);
}

TEST(dns_parse_compression_loops)
{
  static struct pkt p;
  /* an answer whose owner points at itself */
  header(&p, 1, 0x8180, 1, 1);
  question(&p, "example.com", DNS_T_A);
  u16(&p, 0xc000 | (unsigned)p.n); rrhead(&p, DNS_T_A, 4); u32(&p, 0x7f000001);
  CHECK(dns_parse(p.b, p.n, "example.com", DNS_T_A, &ans) == -1);
  /* a pointer forward, into the record's own data */
  header(&p, 1, 0x8180, 1, 1);
  question(&p, "example.com", DNS_T_A);
  u16(&p, 0xc000 | (unsigned)(p.n + 2)); u16(&p, 0xc00c); rrhead(&p, DNS_T_A, 4); u32(&p, 0x7f000001);
  CHECK(dns_parse(p.b, p.n, "example.com", DNS_T_A, &ans) == -1);
  /* two labels pointing at each other: a label, then a pointer back to it */
  header(&p, 1, 0x8180, 1, 1);
  question(&p, "example.com", DNS_T_A);
  {
    size_t at = p.n;
    u8(&p, 1); u8(&p, 'a'); u16(&p, 0xc000 | (unsigned)at);
  }
  rrhead(&p, DNS_T_A, 4); u32(&p, 0x7f000001);
  CHECK(dns_parse(p.b, p.n, "example.com", DNS_T_A, &ans) == -1);
  /* a question name that is only a pointer to itself */
  header(&p, 1, 0x8180, 1, 0);
  u16(&p, 0xc00c); u16(&p, 1); u16(&p, 1);
  CHECK(dns_parse(p.b, p.n, "example.com", DNS_T_A, &ans) == -1);
}

TEST(dns_parse_pointer_out_of_range)
{
  static struct pkt p;
  header(&p, 1, 0x8180, 1, 1);
  question(&p, "example.com", DNS_T_A);
  u16(&p, 0xffff); rrhead(&p, DNS_T_A, 4); u32(&p, 0x7f000001);
  CHECK(dns_parse(p.b, p.n, "example.com", DNS_T_A, &ans) == -1);
  /* a pointer with its second byte missing */
  header(&p, 1, 0x8180, 1, 1);
  question(&p, "example.com", DNS_T_A);
  u8(&p, 0xc0);
  CHECK(dns_parse(p.b, p.n, "example.com", DNS_T_A, &ans) == -1);
  /* reserved label types 0x40 and 0x80 */
  header(&p, 1, 0x8180, 1, 1);
  question(&p, "example.com", DNS_T_A);
  u8(&p, 0x41); u8(&p, 0);
  CHECK(dns_parse(p.b, p.n, "example.com", DNS_T_A, &ans) == -1);
}

TEST(dns_parse_huge_counts_and_lengths)
{
  static struct pkt p;
  /* 65535 answers announced, one present */
  header(&p, 1, 0x8180, 1, 65535);
  question(&p, "example.com", DNS_T_A);
  u16(&p, 0xc00c); rrhead(&p, DNS_T_A, 4); u32(&p, 0x7f000001);
  CHECK(dns_parse(p.b, p.n, "example.com", DNS_T_A, &ans) == -1);
  /* rdlength past the end */
  header(&p, 1, 0x8180, 1, 1);
  question(&p, "example.com", DNS_T_A);
  u16(&p, 0xc00c); rrhead(&p, DNS_T_A, 65535); u32(&p, 0x7f000001);
  CHECK(dns_parse(p.b, p.n, "example.com", DNS_T_A, &ans) == -1);
  /* an A record with 5 bytes of data */
  header(&p, 1, 0x8180, 1, 1);
  question(&p, "example.com", DNS_T_A);
  u16(&p, 0xc00c); rrhead(&p, DNS_T_A, 5); u32(&p, 0x7f000001); u8(&p, 0);
  CHECK(dns_parse(p.b, p.n, "example.com", DNS_T_A, &ans) == -1);
  /* a label length running past the packet */
  header(&p, 1, 0x8180, 1, 0);
  u8(&p, 63); u8(&p, 'x');
  CHECK(dns_parse(p.b, p.n, "x", DNS_T_A, &ans) == -1);
  /* two questions */
  header(&p, 1, 0x8180, 2, 0);
  question(&p, "example.com", DNS_T_A);
  question(&p, "example.com", DNS_T_A);
  CHECK(dns_parse(p.b, p.n, "example.com", DNS_T_A, &ans) == -1);
  /* a query, not a response */
  header(&p, 1, 0x0100, 1, 0);
  question(&p, "example.com", DNS_T_A);
  CHECK(dns_parse(p.b, p.n, "example.com", DNS_T_A, &ans) == -1);
}

TEST(dns_parse_name_too_long)
{
  static struct pkt p;
  char l63[64];
  size_t a, b, c, d, rd;
  int k;
  memset(l63, 'a', 63);
  l63[63] = 0;
  for (k = 0; k < 2; ++k) {
    header(&p, 1, 0x8180, 1, 2);
    question(&p, "example.com", DNS_T_MX);
    /* first an unknown record whose data holds four 63-byte labels, each
     * chained backwards to the one before by a pointer */
    u16(&p, 0xc00c); rrhead(&p, 99, 4 * 64 + 1 + 3 * 1);
    rd = p.n;
    a = p.n; u8(&p, 63); memcpy(p.b + p.n, l63, 63); p.n += 63; u8(&p, 0);
    b = p.n; u8(&p, 63); memcpy(p.b + p.n, l63, 63); p.n += 63; u16(&p, 0xc000 | (unsigned)a);
    c = p.n; u8(&p, 63); memcpy(p.b + p.n, l63, 63); p.n += 63; u16(&p, 0xc000 | (unsigned)b);
    d = p.n; u8(&p, 63); memcpy(p.b + p.n, l63, 63); p.n += 63; u16(&p, 0xc000 | (unsigned)c);
    p.b[rd - 2] = (unsigned char)((p.n - rd) >> 8); p.b[rd - 1] = (unsigned char)(p.n - rd);
    /* then the MX whose exchange is d (4 labels, 257 bytes) or c (3 labels) */
    u16(&p, 0xc00c); rrhead(&p, DNS_T_MX, 4); u16(&p, 10); u16(&p, 0xc000 | (unsigned)(k ? c : d));
    if (!k) CHECK(dns_parse(p.b, p.n, "example.com", DNS_T_MX, &ans) == -1);
    else {
      CHECK(dns_parse(p.b, p.n, "example.com", DNS_T_MX, &ans) == 0);
      CHECK(ans.n == 1 && strlen(ans.rr[0].name) == 63 * 3 + 2);
    }
  }
}

TEST(dns_parse_cname_chain)
{
  static struct pkt p;
  header(&p, 7, 0x8180, 1, 3);
  question(&p, "alias.example", DNS_T_A);
  u16(&p, 0xc00c); rrhead(&p, DNS_T_CNAME, 9); name(&p, "mid.org");
  name(&p, "mid.org"); rrhead(&p, DNS_T_CNAME, 6); name(&p, "real");
  name(&p, "real"); rrhead(&p, DNS_T_A, 4); u32(&p, 0x0a000001);
  CHECK(dns_parse(p.b, p.n, "alias.example", DNS_T_A, &ans) == 0);
  CHECK(!strcmp(ans.canon, "real"));
  CHECK(ans.n == 1 && ans.rr[0].ip[0] == 10 && ans.rr[0].ip[3] == 1);
  /* a record of the type for the alias itself is not taken */
  header(&p, 7, 0x8180, 1, 2);
  question(&p, "alias.example", DNS_T_A);
  u16(&p, 0xc00c); rrhead(&p, DNS_T_CNAME, 6); name(&p, "real");
  name(&p, "other"); rrhead(&p, DNS_T_A, 4); u32(&p, 0x0a000002);
  CHECK(dns_parse(p.b, p.n, "alias.example", DNS_T_A, &ans) == 0);
  CHECK(ans.n == 0 && !strcmp(ans.canon, "real"));
}

TEST(dns_parse_cname_loop)
{
  static struct pkt p;
  header(&p, 7, 0x8180, 1, 2);
  question(&p, "a.example", DNS_T_A);
  u16(&p, 0xc00c); rrhead(&p, DNS_T_CNAME, 11); name(&p, "b.example");
  name(&p, "b.example"); rrhead(&p, DNS_T_CNAME, 11); name(&p, "a.example");
  CHECK(dns_parse(p.b, p.n, "a.example", DNS_T_A, &ans) == -1);
}

TEST(dns_parse_unsafe_names_skipped)
{
  static struct pkt p;
  header(&p, 1, 0x8180, 1, 3);
  question(&p, "example.com", DNS_T_MX);
  /* "a b" with a space, "x.y" as one label holding a dot, then a good one */
  u16(&p, 0xc00c); rrhead(&p, DNS_T_MX, 2 + 5); u16(&p, 1); u8(&p, 3); memcpy(p.b + p.n, "a b", 3); p.n += 3; u8(&p, 0);
  u16(&p, 0xc00c); rrhead(&p, DNS_T_MX, 2 + 5); u16(&p, 2); u8(&p, 3); memcpy(p.b + p.n, "x.y", 3); p.n += 3; u8(&p, 0);
  u16(&p, 0xc00c); rrhead(&p, DNS_T_MX, 2 + 4); u16(&p, 3); u8(&p, 2); memcpy(p.b + p.n, "ok", 2); p.n += 2; u8(&p, 0);
  CHECK(dns_parse(p.b, p.n, "example.com", DNS_T_MX, &ans) == 0);
  CHECK(ans.n == 1 && !strcmp(ans.rr[0].name, "ok") && ans.rr[0].pref == 3);
}

TEST(dns_parse_truncated_flag_and_errors)
{
  static struct pkt p;
  header(&p, 9, 0x8380, 1, 5);               /* TC: the answers may be cut */
  question(&p, "example.com", DNS_T_MX);
  u8(&p, 0xc0);
  CHECK(dns_parse(p.b, p.n, "example.com", DNS_T_MX, &ans) == 0);
  CHECK(ans.tc == 1 && ans.n == 0);
  header(&p, 9, 0x8183, 1, 0);               /* NXDOMAIN */
  question(&p, "example.com", DNS_T_MX);
  CHECK(dns_parse(p.b, p.n, "example.com", DNS_T_MX, &ans) == 0 && ans.rcode == 3);
  header(&p, 9, 0x8181, 0, 0);               /* FORMERR without a question */
  CHECK(dns_parse(p.b, p.n, "example.com", DNS_T_MX, &ans) == 0 && ans.rcode == 1);
}

TEST(dns_parse_random_garbage)
{
  static struct pkt p, q;
  unsigned long s = 12345;
  size_t k, i;
  mxanswer(&p);
  /* flip bytes of a good packet; the parser must never crash or overrun */
  for (k = 0; k < 20000; ++k) {
    q = p;
    for (i = 0; i < 3; ++i) {
      s = s * 6364136223846793005UL + 1;
      q.b[12 + (s >> 33) % (q.n - 12)] = (unsigned char)(s >> 20);
    }
    dns_parse(q.b, q.n, "example.com", DNS_T_MX, &ans);
    CHECK(ans.n <= DNS_MAXRR);
  }
}

TEST(dns_mkquery_names)
{
  unsigned char q[512];
  char big[300];
  size_t n = dns_mkquery(q, "mx.example.com", DNS_T_MX, 0xabcd, 1);
  CHECK(n == 12 + 16 + 4 + 11);
  CHECK(q[0] == 0xab && q[1] == 0xcd && q[2] == 1 && q[5] == 1 && q[11] == 1);
  CHECK(q[12] == 2 && !memcmp(q + 13, "mx", 2) && q[15] == 7);
  CHECK(q[n - 11 + 2] == 41 && q[n - 11 + 3] == 0x10 && q[n - 11 + 4] == 0); /* OPT 4096 */
  CHECK(dns_mkquery(q, "example.com.", DNS_T_A, 1, 0) == 12 + 13 + 4);
  CHECK(dns_mkquery(q, "", DNS_T_A, 1, 0) == 0);
  CHECK(dns_mkquery(q, ".", DNS_T_A, 1, 0) == 0);
  CHECK(dns_mkquery(q, "a..b", DNS_T_A, 1, 0) == 0);
  CHECK(dns_mkquery(q, "a b.com", DNS_T_A, 1, 0) == 0);
  memset(big, 'a', 64); big[64] = 0;
  CHECK(dns_mkquery(q, big, DNS_T_A, 1, 0) == 0);         /* label of 64 */
  big[63] = 0;
  CHECK(dns_mkquery(q, big, DNS_T_A, 1, 0) != 0);
  memset(big, 'a', 299); big[299] = 0;
  for (n = 50; n < 299; n += 50) big[n] = '.';
  CHECK(dns_mkquery(q, big, DNS_T_A, 1, 0) == 0);         /* over 253 */
}

TEST(dns_literals)
{
  struct ipaddr ip;
  CHECK(dns_literal(&ip, "[1.2.3.4]") && ip.af == AF_INET && ip.a[3] == 4);
  CHECK(dns_literal(&ip, "[IPv6:2001:db8::1]") && ip.af == AF_INET6 && ip.a[15] == 1);
  CHECK(dns_literal(&ip, "[::1]") && ip.af == AF_INET6);
  CHECK(!dns_literal(&ip, "[IPv6:1.2.3.4]"));
  CHECK(!dns_literal(&ip, "1.2.3.4"));
  CHECK(!dns_literal(&ip, "[1.2.3]"));
  CHECK(!dns_literal(&ip, "[]"));
}

TEST(dns_init_resolvconf)
{
  char fn[] = "/tmp/dnsconfXXXXXX";
  struct dns_conf c;
  char longline[3000];
  int fd = mkstemp(fn);
  FILE *f;
  CHECK(fd != -1);
  f = fdopen(fd, "w");
  memset(longline, 'x', sizeof longline - 1);
  longline[sizeof longline - 1] = 0;
  fprintf(f, "# comment\nsearch example.com\n%s\nnameserver 192.0.2.1\nnameserver\tfe80::1%%eth0\n"
             "nameserver bogus\nnameservers 192.0.2.9\nnameserver 2001:db8::53 # x\n", longline);
  fclose(f);
  CHECK(dns_init(&c, fn) == 0);
  CHECK(c.n == 3);
  CHECK(c.ns[0].ss_family == AF_INET && ntohs(((struct sockaddr_in *)&c.ns[0])->sin_port) == 53);
  CHECK(c.ns[1].ss_family == AF_INET6 && c.ns[2].ss_family == AF_INET6);
  unlink(fn);
  CHECK(dns_init(&c, "/nonexistent/resolv.conf") == 0);
  CHECK(c.n == 2 && c.ns[0].ss_family == AF_INET);        /* local defaults */
}

/* a server on 127.0.0.1 that truncates every UDP answer and gives the whole
 * answer (40 MX records, over 512 bytes) over TCP */
static void fakeserver(int u, int t)
{
  unsigned char q[512];
  static struct pkt p;
  struct sockaddr_storage from;
  socklen_t fl = sizeof from;
  ssize_t n;
  int i, c;

  n = recvfrom(u, q, sizeof q, 0, (struct sockaddr *)&from, &fl);
  if (n < 12) _exit(1);
  /* truncated answer: header and question only */
  memcpy(p.b, q, (size_t)n);
  p.b[2] = 0x83; p.b[3] = 0x80; p.b[11] = 0;               /* QR RD TC, no OPT */
  p.n = (size_t)n - 11;                                    /* drop our OPT */
  sendto(u, p.b, p.n, 0, (struct sockaddr *)&from, fl);
  c = accept(t, 0, 0);
  if (c == -1) _exit(1);
  {
    unsigned char lb[2];
    size_t got = 0, want;
    while (got < 2) { n = read(c, lb + got, 2 - got); if (n <= 0) _exit(1); got += (size_t)n; }
    want = ((size_t)lb[0] << 8) | lb[1];
    got = 0;
    while (got < want) { n = read(c, q + got, want - got); if (n <= 0) _exit(1); got += (size_t)n; }
  }
  header(&p, ((unsigned)q[0] << 8) | q[1], 0x8180, 1, 40);
  question(&p, "big.example", DNS_T_MX);
  for (i = 0; i < 40; ++i) {
    char nm[64];
    snprintf(nm, sizeof nm, "a-rather-long-mail-exchanger-name-%02d", i);
    u16(&p, 0xc00c); rrhead(&p, DNS_T_MX, (unsigned)(2 + 1 + strlen(nm) + 2));
    u16(&p, (unsigned)i); u8(&p, (unsigned)strlen(nm)); memcpy(p.b + p.n, nm, strlen(nm)); p.n += strlen(nm); u16(&p, 0xc00c);
  }
  {
    unsigned char lb[2] = { (unsigned char)(p.n >> 8), (unsigned char)p.n };
    if (write(c, lb, 2) != 2 || write(c, p.b, p.n) != (ssize_t)p.n) _exit(1);
  }
  close(c);
  _exit(0);
}

TEST(dns_resolve_tcp_fallback)
{
  struct sockaddr_in sin;
  socklen_t sl = sizeof sin;
  struct dns_conf c;
  int u = socket(AF_INET, SOCK_DGRAM, 0), t = socket(AF_INET, SOCK_STREAM, 0), one = 1, st;
  pid_t pid;
  unsigned port;

  memset(&sin, 0, sizeof sin);
  sin.sin_family = AF_INET;
  sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  setsockopt(t, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  CHECK(bind(t, (struct sockaddr *)&sin, sizeof sin) == 0);
  CHECK(getsockname(t, (struct sockaddr *)&sin, &sl) == 0);
  CHECK(bind(u, (struct sockaddr *)&sin, sizeof sin) == 0);  /* same port for UDP */
  CHECK(listen(t, 1) == 0);
  port = ntohs(sin.sin_port);
  pid = fork();
  if (pid == 0) { alarm(10); fakeserver(u, t); }
  close(u);
  close(t);
  memset(&c, 0, sizeof c);
  c.timeout_ms = 3000;
  c.attempts = 1;
  c.port = port;
  c.n = 1;
  sin.sin_port = htons((unsigned short)port);
  memcpy(&c.ns[0], &sin, sizeof sin);
  c.nslen[0] = sizeof sin;
  CHECK(dns_resolve(&c, "big.example", DNS_T_MX, &ans) == DNS_OK);
  CHECK(ans.n == 40);
  CHECK(ans.rr[39].pref == 39 && !strcmp(ans.rr[39].name, "a-rather-long-mail-exchanger-name-39.big.example"));
  kill(pid, SIGTERM);
  CHECK(waitpid(pid, &st, 0) == pid);
}
