#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "dns.h"
#include "bio.h"
#include "grow.h"
#include "open.h"
#include "sa.h"
#include "str.h"
#include "timeoutconn.h"

#define C_IN 1
#define T_OPT 41
#define EDNS_SIZE 4096
#define MAXHOPS 8          /* CNAME hops followed, in a packet or by requery */
#define PKTMAX 65536

/* ---- packet parsing: every read is checked against len ---- */

static unsigned get16(const unsigned char *p) { return ((unsigned)p[0] << 8) | p[1]; }

/* getname - expand the name at *pos into out (text, no trailing dot) and
 * move *pos past it. Pointers must point strictly before everything read
 * so far, so loops are impossible; *unsafe is set when a label holds a
 * dot, a control character or a space. 0, or -1 when malformed. */
static int getname(const unsigned char *p, size_t len, size_t *pos, char *out, int *unsafe)
{
  size_t i = *pos, limit = *pos, o = 0, end = 0, wire = 0, k;
  unsigned c, t;
  int jumped = 0;

  *unsafe = 0;
  for (;;) {
    if (i >= len) return -1;
    c = p[i];
    if (c == 0) { if (!jumped) end = i + 1; break; }
    if ((c & 0xc0) == 0xc0) {
      if (i + 1 >= len) return -1;
      t = ((c & 0x3f) << 8) | p[i + 1];
      if (t >= limit) return -1;
      if (!jumped) { end = i + 2; jumped = 1; }
      limit = t;
      i = t;
      continue;
    }
    if (c & 0xc0) return -1;             /* 0x40 and 0x80 label types */
    if (c > len - i - 1) return -1;      /* label runs past the packet */
    wire += c + 1;
    if (wire > 254) return -1;           /* 255 with the root label */
    if (o) out[o++] = '.';
    for (k = 1; k <= c; ++k) {
      unsigned char b = p[i + k];
      if (b == '.' || b < 33 || b == 127) { *unsafe = 1; b = '?'; }
      out[o++] = (char)b;
    }
    i += 1 + c;
  }
  out[o] = 0;
  *pos = end;
  return 0;
}

static int name_equal(const char *a, const char *b)
{
  size_t la = strlen(a), lb = strlen(b);
  if (la && a[la - 1] == '.') --la;
  if (lb && b[lb - 1] == '.') --lb;
  return la == lb && !case_diffb(a, la, b);
}

struct rrinfo {
  char owner[DNS_NAMELEN];
  int unsafe;
  unsigned type;
  unsigned class;
  size_t rdpos;
  size_t rdlen;
};

/* rr_next - one resource record at *pos; checks the rdata of the types we
 * use. 0, or -1 when malformed. */
static int rr_next(const unsigned char *p, size_t len, size_t *pos, struct rrinfo *r)
{
  char name[DNS_NAMELEN];
  size_t i;
  int u;

  if (getname(p, len, pos, r->owner, &r->unsafe) == -1) return -1;
  i = *pos;
  if (len - i < 10) return -1;
  r->type = get16(p + i);
  r->class = get16(p + i + 2);
  r->rdlen = get16(p + i + 8);
  r->rdpos = i + 10;
  if (r->rdlen > len - r->rdpos) return -1;
  *pos = r->rdpos + r->rdlen;
  if (r->class != C_IN) return 0;
  switch (r->type) {
    case DNS_T_A: if (r->rdlen != 4) return -1; break;
    case DNS_T_AAAA: if (r->rdlen != 16) return -1; break;
    case DNS_T_CNAME:
    case DNS_T_PTR:
      i = r->rdpos;
      if (getname(p, r->rdpos + r->rdlen, &i, name, &u) == -1) return -1;
      if (i != r->rdpos + r->rdlen) return -1;
      break;
    case DNS_T_MX:
      if (r->rdlen < 3) return -1;
      i = r->rdpos + 2;
      if (getname(p, r->rdpos + r->rdlen, &i, name, &u) == -1) return -1;
      if (i != r->rdpos + r->rdlen) return -1;
      break;
    case DNS_T_TXT:                      /* character-strings fill the rdata exactly */
      for (i = r->rdpos; i < r->rdpos + r->rdlen; i += 1 + p[i])
        if (p[i] > r->rdpos + r->rdlen - i - 1) return -1;
      break;
  }
  return 0;
}

/* txtadd - one TXT record's strings, joined, then a NUL */
static int txtadd(sa *out, const unsigned char *p, size_t pos, size_t len)
{
  size_t i, k, start = out->len;
  for (i = pos; i < pos + len; i += 1 + p[i])
    for (k = 1; k <= p[i]; ++k)
      if (!sa_append(out, p[i + k] ? (char)p[i + k] : 127)) { out->len = start; return 0; }
  return sa_append(out, 0);
}

static int parse(const unsigned char *p, size_t len, const char *qname, unsigned qtype, struct dns_answer *a, sa *txt)
{
  struct rrinfo r;
  char name[DNS_NAMELEN];
  size_t pos, start, k, an, hop;
  unsigned qd;
  int u, moved;

  a->n = 0;
  a->tc = 0;
  a->canon[0] = 0;
  if (txt) txt->len = 0;
  if (len < 12) goto bad;
  a->id = get16(p);
  if (!(p[2] & 0x80)) goto bad;          /* not a response */
  if (p[2] & 0x78) goto bad;             /* opcode other than QUERY */
  a->tc = (p[2] & 0x02) != 0;
  a->rcode = p[3] & 0x0f;
  qd = get16(p + 4);
  an = get16(p + 6);
  if (strlen(qname) >= DNS_NAMELEN) goto bad;
  strcpy(a->canon, qname);
  if (qd == 0 && a->rcode != 0 && a->rcode != 3) return 0; /* FORMERR etc. */
  if (qd != 1) goto bad;
  pos = 12;
  if (getname(p, len, &pos, name, &u) == -1 || u) goto bad;
  if (!name_equal(name, qname)) goto bad;
  if (len - pos < 4) goto bad;
  if (get16(p + pos) != qtype || get16(p + pos + 2) != C_IN) goto bad;
  pos += 4;
  if (a->tc) return 0;                   /* the rest may be cut off */
  start = pos;

  /* validate every answer record once */
  for (k = 0; k < an; ++k) if (rr_next(p, len, &pos, &r) == -1) goto bad;

  /* follow the CNAME chain from qname */
  for (hop = 0;; ++hop) {
    moved = 0;
    pos = start;
    for (k = 0; k < an; ++k) {
      rr_next(p, len, &pos, &r);
      if (r.class != C_IN || r.type != DNS_T_CNAME || r.unsafe) continue;
      if (!name_equal(r.owner, a->canon)) continue;
      size_t i = r.rdpos;
      if (getname(p, len, &i, name, &u) == -1 || u) goto bad;
      strcpy(a->canon, name);
      moved = 1;
      break;
    }
    if (!moved || qtype == DNS_T_CNAME) break;
    if (hop >= MAXHOPS) goto bad;        /* a loop, or a chain too long */
  }

  /* collect the records of qtype that belong to the end of the chain */
  pos = start;
  for (k = 0; k < an; ++k) {
    struct dns_rr *x;
    rr_next(p, len, &pos, &r);
    if (r.class != C_IN || r.type != qtype || r.unsafe) continue;
    if (!name_equal(r.owner, a->canon)) continue;
    if (a->n >= DNS_MAXRR) break;
    x = &a->rr[a->n];
    memset(x, 0, sizeof *x);
    x->type = r.type;
    if (r.type == DNS_T_TXT) { if (txt && !txtadd(txt, p, r.rdpos, r.rdlen)) return -2; }
    else if (r.type == DNS_T_A) memcpy(x->ip, p + r.rdpos, 4);
    else if (r.type == DNS_T_AAAA) memcpy(x->ip, p + r.rdpos, 16);
    else if (r.type == DNS_T_MX || r.type == DNS_T_CNAME || r.type == DNS_T_PTR) {
      size_t i = r.rdpos;
      if (r.type == DNS_T_MX) { x->pref = get16(p + i); i += 2; }
      if (getname(p, len, &i, x->name, &u) == -1) goto bad;
      if (u) continue;                   /* an exchange name we will not use */
    }
    ++a->n;
  }
  return 0;
bad:
  errno = EPROTO;
  return -1;
}

int dns_parse(const unsigned char *p, size_t len, const char *qname, unsigned qtype, struct dns_answer *a)
{
  return parse(p, len, qname, qtype, a, 0);
}

size_t dns_mkquery(unsigned char *q, const char *name, unsigned qtype, unsigned id, int edns)
{
  size_t n = strlen(name), pos = 12, i = 0, j;

  if (n && name[n - 1] == '.') --n;
  if (!n || n > 253) return 0;
  q[0] = (unsigned char)(id >> 8); q[1] = (unsigned char)id;
  q[2] = 0x01; q[3] = 0;                 /* RD */
  q[4] = 0; q[5] = 1;
  q[6] = q[7] = q[8] = q[9] = q[10] = 0;
  q[11] = edns ? 1 : 0;
  while (i < n) {
    j = i + byte_chr(name + i, n - i, '.');
    if (j == i || j - i > 63) return 0;
    for (size_t k = i; k < j; ++k)      /* what getname would call unsafe */
      if ((unsigned char)name[k] < 33 || name[k] == 127) return 0;
    q[pos++] = (unsigned char)(j - i);
    memcpy(q + pos, name + i, j - i);
    pos += j - i;
    i = j + 1;
    if (j + 1 == n) return 0;            /* "a..": empty last label */
  }
  q[pos++] = 0;
  q[pos++] = (unsigned char)(qtype >> 8); q[pos++] = (unsigned char)qtype;
  q[pos++] = 0; q[pos++] = C_IN;
  if (edns) {
    q[pos++] = 0;
    q[pos++] = 0; q[pos++] = T_OPT;
    q[pos++] = EDNS_SIZE >> 8; q[pos++] = EDNS_SIZE & 255;
    q[pos++] = 0; q[pos++] = 0; q[pos++] = 0; q[pos++] = 0;
    q[pos++] = 0; q[pos++] = 0;
  }
  return pos;
}

/* ---- configuration ---- */

static void addns(struct dns_conf *c, const char *s, size_t n)
{
  struct ipaddr ip;
  size_t pct = byte_chr(s, n, '%');      /* drop an IPv6 scope */
  if (c->n >= DNS_MAXNS) return;
  if (!ipaddr_scan(&ip, s, pct)) return;
  c->nslen[c->n] = ipaddr_sockaddr(&c->ns[c->n], &ip, c->port);
  ++c->n;
}

int dns_init(struct dns_conf *c, const char *fn)
{
  char buf[1024];
  bio b;
  sa line = SA_ZERO;
  int fd, r, ret = 0;
  size_t i, j;

  memset(c, 0, sizeof *c);
  c->timeout_ms = 5000;
  c->attempts = 2;
  c->port = 53;
  fd = open_read(fn ? fn : "/etc/resolv.conf");
  if (fd == -1) { if (errno != ENOENT) ret = -1; }
  else {
    bio_init(&b, fd, buf, sizeof buf);
    for (;;) {
      line.len = 0;
      r = bio_getln(&b, &line, '\n', 1024);
      if (r == -2) {                     /* an overlong line: skip it */
        char ch;
        while ((r = bio_getc(&b, &ch)) == 1 && ch != '\n') ;
        if (r == 1) continue;
      }
      if (r == -1) { ret = -1; break; }
      if (line.len >= 11 && !memcmp(line.s, "nameserver", 10) && (line.s[10] == ' ' || line.s[10] == '\t')) {
        i = 11;
        while (i < line.len && (line.s[i] == ' ' || line.s[i] == '\t')) ++i;
        j = i;
        while (j < line.len && line.s[j] != ' ' && line.s[j] != '\t' && line.s[j] != '\n' && line.s[j] != '\r' && line.s[j] != '#' && line.s[j] != ';') ++j;
        addns(c, line.s + i, j - i);
      }
      if (r <= 0) break;
    }
    close(fd);
  }
  sa_free(&line);
  if (!c->n) { addns(c, "127.0.0.1", 9); addns(c, "::1", 3); }
  return ret;
}

/* ---- transport ---- */

static unsigned rnd16(void)
{
  unsigned short x;
  if (getrandom(&x, sizeof x, GRND_NONBLOCK) != (ssize_t)sizeof x)
    x = (unsigned short)(time(0) ^ getpid() ^ clock());
  return x;
}

static long long now_ms(void)
{
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (long long)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* udp - one exchange; the length of a reply with our id, or -1 */
static ssize_t udp(const struct dns_conf *c, size_t s, const unsigned char *q, size_t qlen, unsigned char *resp, size_t max)
{
  struct pollfd pf;
  long long end = now_ms() + c->timeout_ms, left;
  ssize_t n;
  int fd = socket(c->ns[s].ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);

  if (fd == -1) return -1;
  if (connect(fd, (const struct sockaddr *)&c->ns[s], c->nslen[s]) == -1) goto fail;
  if (send(fd, q, qlen, 0) != (ssize_t)qlen) goto fail;
  for (;;) {
    left = end - now_ms();
    if (left <= 0) goto fail;
    pf.fd = fd; pf.events = POLLIN; pf.revents = 0;
    if (poll(&pf, 1, (int)left) <= 0) { if (errno == EINTR) continue; goto fail; }
    n = recv(fd, resp, max, 0);
    if (n == -1) { if (errno == EINTR || errno == EAGAIN) continue; goto fail; }
    if (n >= 12 && resp[0] == q[0] && resp[1] == q[1]) { close(fd); return n; }
  }
fail:
  close(fd);
  return -1;
}

static int readall(int fd, unsigned char *s, size_t n, unsigned timeout)
{
  ssize_t r;
  while (n) {
    r = bio_rawread(fd, (char *)s, n, timeout);
    if (r <= 0) return -1;
    s += r;
    n -= (size_t)r;
  }
  return 0;
}

/* tcp - one exchange over TCP (after a truncated UDP answer) */
static ssize_t tcp(const struct dns_conf *c, size_t s, const unsigned char *q, size_t qlen, unsigned char *resp)
{
  unsigned char lenbuf[2];
  char out[2 + 512];
  unsigned timeout = (c->timeout_ms + 999) / 1000;
  size_t n;
  int fd = socket(c->ns[s].ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);

  if (fd == -1) return -1;
  if (timeoutconn(fd, (const struct sockaddr *)&c->ns[s], c->nslen[s], timeout) == -1) goto fail;
  out[0] = (char)(qlen >> 8);
  out[1] = (char)qlen;
  memcpy(out + 2, q, qlen);
  if (!bio_writeall(fd, out, qlen + 2, timeout)) goto fail;
  if (readall(fd, lenbuf, 2, timeout) == -1) goto fail;
  n = get16(lenbuf);
  if (n < 12) goto fail;
  if (readall(fd, resp, n, timeout) == -1) goto fail;
  close(fd);
  return (ssize_t)n;
fail:
  close(fd);
  return -1;
}

/* query1 - one question, no CNAME requery; DNS_OK, DNS_HARD or DNS_SOFT */
static int query1(const struct dns_conf *c, const char *name, unsigned qtype, struct dns_answer *a, unsigned char *resp, sa *txt)
{
  unsigned char q[512];
  size_t qlen, s;
  unsigned attempt, id;
  ssize_t n;
  int edns, pr;

  for (attempt = 0; attempt < c->attempts; ++attempt)
    for (s = 0; s < c->n; ++s) {
      edns = 1;
    again:
      id = rnd16();
      qlen = dns_mkquery(q, name, qtype, id, edns);
      if (!qlen) return DNS_HARD;
      n = udp(c, s, q, qlen, resp, PKTMAX);
      if (n < 0) continue;
      pr = parse(resp, (size_t)n, name, qtype, a, txt);
      if (pr == -2) return DNS_MEM;
      if (pr == -1 || a->id != id) continue;
      if (a->tc) {
        n = tcp(c, s, q, qlen, resp);
        if (n < 0) continue;
        pr = parse(resp, (size_t)n, name, qtype, a, txt);
        if (pr == -2) return DNS_MEM;
        if (pr == -1 || a->id != id || a->tc) continue;
      }
      if (a->rcode == 0) return DNS_OK;
      if (a->rcode == 3) return DNS_HARD;
      if (a->rcode == 1 && edns) { edns = 0; goto again; }
    }
  return DNS_SOFT;
}

static int resolve(const struct dns_conf *c, const char *name, unsigned qtype, struct dns_answer *a, sa *txt)
{
  char cur[DNS_NAMELEN];
  unsigned char *resp;
  size_t hop;
  int r = DNS_SOFT;

  if (strlen(name) >= sizeof cur) return DNS_HARD;
  strcpy(cur, name);
  resp = malloc(PKTMAX);
  if (!resp) return DNS_MEM;
  for (hop = 0; hop < MAXHOPS; ++hop) {
    r = query1(c, cur, qtype, a, resp, txt);
    if (r != DNS_OK) break;
    if (a->n || name_equal(a->canon, cur)) break;
    strcpy(cur, a->canon);               /* the chain ended outside this answer */
    r = DNS_SOFT;
  }
  free(resp);
  return r;
}

int dns_resolve(const struct dns_conf *c, const char *name, unsigned qtype, struct dns_answer *a)
{
  return resolve(c, name, qtype, a, 0);
}

int dns_txt(const struct dns_conf *c, const char *name, sa *out, size_t *n)
{
  struct dns_answer *a = malloc(sizeof *a);
  int r;

  *n = 0;
  out->len = 0;
  if (!a) return DNS_MEM;
  r = resolve(c, name, DNS_T_TXT, a, out);
  if (r == DNS_OK) *n = a->n;
  else out->len = 0;
  free(a);
  return r;
}

/* ---- mail routing ---- */

int dns_list_add(dns_list *l, const struct ipaddr *ip, unsigned long pref)
{
  struct dns_host *x = grow(l->x, &l->a, l->len + 1, sizeof *x);
  if (!x) return 0;
  l->x = x;
  l->x[l->len].pref = pref;
  l->x[l->len].ip = *ip;
  ++l->len;
  return 1;
}

int dns_literal(struct ipaddr *ip, const char *name)
{
  size_t n = strlen(name);
  if (n < 3 || name[0] != '[' || name[n - 1] != ']') return 0;
  ++name;
  n -= 2;
  if (n > 5 && !case_diffb(name, 5, "ipv6:")) {
    if (!ipaddr_scan(ip, name + 5, n - 5)) return 0;
    return ip->af == AF_INET6;
  }
  return ipaddr_scan(ip, name, n);
}

int dns_ip(const struct dns_conf *c, dns_list *out, const char *name, unsigned long pref)
{
  static const unsigned types[2] = { DNS_T_A, DNS_T_AAAA };
  struct dns_answer *a;
  struct ipaddr ip;
  size_t i, t, added = 0;
  int r, soft = 0;

  if (dns_literal(&ip, name)) return dns_list_add(out, &ip, pref) ? DNS_OK : DNS_MEM;
  a = malloc(sizeof *a);
  if (!a) return DNS_MEM;
  for (t = 0; t < 2; ++t) {
    r = dns_resolve(c, name, types[t], a);
    if (r == DNS_MEM) { free(a); return DNS_MEM; }
    if (r == DNS_HARD && t == 0) { free(a); return DNS_HARD; }
    if (r == DNS_SOFT) soft = 1;
    if (r != DNS_OK) continue;
    for (i = 0; i < a->n && out->len < DNS_MAXIP; ++i) {
      memset(&ip, 0, sizeof ip);
      ip.af = types[t] == DNS_T_A ? AF_INET : AF_INET6;
      memcpy(ip.a, a->rr[i].ip, types[t] == DNS_T_A ? 4 : 16);
      if (!dns_list_add(out, &ip, pref)) { free(a); return DNS_MEM; }
      ++added;
    }
  }
  free(a);
  if (!added && soft) return DNS_SOFT;
  return DNS_OK;
}

struct mx { unsigned pref; unsigned long key; char *name; };

int dns_mxip(const struct dns_conf *c, dns_list *out, const char *name, unsigned long seed, int *partial)
{
  struct dns_answer *a;
  struct mx mx[DNS_MAXRR], t;
  struct ipaddr ip;
  size_t i, j, n = 0;
  int r;

  *partial = 0;
  if (dns_literal(&ip, name)) return dns_list_add(out, &ip, 0) ? DNS_OK : DNS_MEM;
  a = malloc(sizeof *a);
  if (!a) return DNS_MEM;
  r = dns_resolve(c, name, DNS_T_MX, a);
  if (r != DNS_OK) { free(a); return r; }
  if (!a->n) { free(a); return dns_ip(c, out, name, 0); }
  for (i = 0; i < a->n; ++i) {
    if (!a->rr[i].name[0]) continue;    /* "." : the null MX */
    seed = seed * 6364136223846793005UL + 1442695040888963407UL;
    mx[n].pref = a->rr[i].pref;
    mx[n].key = seed >> 16;
    mx[n].name = a->rr[i].name;
    ++n;
  }
  if (!n) { free(a); return DNS_NULLMX; }
  for (i = 1; i < n; ++i)               /* insertion sort: n is small */
    for (j = i; j > 0; --j) {
      if (mx[j - 1].pref < mx[j].pref) break;
      if (mx[j - 1].pref == mx[j].pref && mx[j - 1].key <= mx[j].key) break;
      t = mx[j]; mx[j] = mx[j - 1]; mx[j - 1] = t;
    }
  for (i = 0; i < n && i < DNS_MAXMX; ++i) {
    r = dns_ip(c, out, mx[i].name, mx[i].pref);
    if (r == DNS_MEM) { free(a); return DNS_MEM; }
    if (r == DNS_SOFT) *partial = 1;
  }
  free(a);
  return DNS_OK;
}
