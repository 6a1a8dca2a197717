#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "spf.h"
#include "fmt.h"
#include "str.h"

#define MAXLOOKUPS 10
#define MAXVOID 2
#define MAXNAMES 10        /* MX and PTR names looked at */
#define MAXTERMS 256
#define MAXDEPTH 12

enum { M_ALL, M_INCLUDE, M_A, M_MX, M_PTR, M_IP4, M_IP6, M_EXISTS, MOD_REDIRECT, MOD_EXP, MOD_OTHER };

struct term {
  int kind;
  char qual;
  const char *arg;         /* macro-string, 0 when none */
  size_t alen;
  unsigned c4, c6;         /* prefix lengths */
  struct ipaddr net;
};

struct ctx {
  const struct spf_query *q;
  struct ipaddr ip;        /* an IPv4-mapped address made IPv4 */
  const char *local;       /* sender local part, NUL-terminated copies */
  const char *odomain;
  unsigned lookups, voids;
  long long deadline;
  struct dns_answer *ans;
  sa *exp;
  const char *why;
  int nomem;
  char ptrname[DNS_NAMELEN];
  int ptrdone;
};

static const char *const names[] = { "none", "neutral", "pass", "fail", "softfail", "temperror", "permerror" };
const char *spf_name(enum spf_result r) { return names[r]; }

static long long now_ms(void)
{
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (long long)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

static int alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
static int digit(char c) { return c >= '0' && c <= '9'; }
static int alnum(char c) { return alpha(c) || digit(c); }

/* validdomain - a multi-label name whose labels are 1..63 bytes */
static int validdomain(const char *d)
{
  size_t n = strlen(d), i = 0, l, dots = 0;
  if (n && d[n - 1] == '.') --n;
  if (!n || n > 253) return 0;
  while (i < n) {
    l = byte_chr(d + i, n - i, '.');
    if (!l || l > 63) return 0;
    i += l;
    if (i < n) { ++i; ++dots; }
  }
  return dots > 0;
}

/* ---- DNS, with the deadline ---- */

static int query(struct ctx *c, const char *name, unsigned type)
{
  struct dns_conf conf = *c->q->dns;
  long long left = c->deadline - now_ms();
  if (left <= 0) return DNS_SOFT;
  if (conf.timeout_ms > left) conf.timeout_ms = (unsigned)left;
  if (strlen(name) >= DNS_NAMELEN) return DNS_HARD;
  return dns_resolve(&conf, name, type, c->ans);
}

/* ---- macros (RFC 7208 7) ---- */

static int catip(sa *out, const struct ipaddr *ip, int dotted6)
{
  char buf[IPADDR_FMT];
  static const char hex[] = "0123456789ABCDEF";   /* as the RFC 7208 test suite spells %{i} */
  if (ip->af == AF_INET || !dotted6) return sa_catb(out, buf, ipaddr_fmt(buf, ip));
  for (int i = 0; i < 16; ++i) {
    char d[4] = { hex[ip->a[i] >> 4], '.', hex[ip->a[i] & 15], '.' };
    if (!sa_catb(out, d, i == 15 ? 3 : 4)) return 0;
  }
  return 1;
}

static int validate_ptr(struct ctx *c, const char *target, char *found);

/* macroval - the value of one macro letter */
static int macroval(struct ctx *c, char l, const char *domain, sa *v)
{
  char buf[32];
  v->len = 0;
  switch (l) {
    case 's': return sa_cats(v, c->local) && sa_append(v, '@') && sa_cats(v, c->odomain);
    case 'l': return sa_cats(v, c->local);
    case 'o': return sa_cats(v, c->odomain);
    case 'd': return sa_cats(v, domain);
    case 'i': return catip(v, &c->ip, 1);
    case 'c': return catip(v, &c->ip, 0);
    case 'v': return sa_cats(v, c->ip.af == AF_INET ? "in-addr" : "ip6");
    case 'h': return sa_cats(v, c->q->helo);
    case 'r': return sa_cats(v, c->q->receiver ? c->q->receiver : "unknown");
    case 't': return sa_catb(v, buf, fmt_ulong(buf, (unsigned long)time(0)));
    case 'p':
      if (!c->ptrdone) {
        c->ptrdone = 1;
        if (validate_ptr(c, domain, c->ptrname) <= 0) strcpy(c->ptrname, "unknown");
      }
      return sa_cats(v, c->ptrname);
  }
  errno = EINVAL;
  return 0;
}

static int urlescape(sa *out, const char *s, size_t n)
{
  static const char hex[] = "0123456789ABCDEF";
  for (size_t i = 0; i < n; ++i) {
    unsigned char ch = (unsigned char)s[i];
    if (alnum((char)ch) || ch == '-' || ch == '.' || ch == '_' || ch == '~') { if (!sa_append(out, (char)ch)) return 0; }
    else { char e[3] = { '%', hex[ch >> 4], hex[ch & 15] }; if (!sa_catb(out, e, 3)) return 0; }
  }
  return 1;
}

/* expand - macro-string s[0..n) into out; explain allows c, r, t and any
 * printable text; with c 0 only the syntax is checked. 1, 0 on a syntax
 * error (permerror), -1 out of memory */
static int expand(struct ctx *c, const char *s, size_t n, const char *domain, int explain, sa *out)
{
  int dry = c == 0;              /* syntax check only */
  sa v = SA_ZERO, parts = SA_ZERO, dummy = SA_ZERO;
  size_t i = 0;
  int ret = 0;

  if (dry) out = &dummy;

  out->len = 0;
  while (i < n) {
    char ch = s[i];
    if (ch != '%') {
      if ((unsigned char)ch < 32 || (unsigned char)ch > 126 || (!explain && ch == ' ')) goto done;
      if (!sa_append(out, ch)) goto nomem;
      ++i;
      continue;
    }
    if (++i >= n) goto done;
    ch = s[i++];
    if (ch == '%') { if (!sa_append(out, '%')) goto nomem; continue; }
    if (ch == '_') { if (!sa_append(out, ' ')) goto nomem; continue; }
    if (ch == '-') { if (!sa_cats(out, "%20")) goto nomem; continue; }
    if (ch != '{' || i >= n) goto done;
    {
      char l = s[i++], lower = (char)(l | 0x20);
      unsigned long keep = 0;
      int rev = 0, upper = l >= 'A' && l <= 'Z', havedigits = 0;
      char delims[8];
      size_t nd = 0, k, end, cnt, start;

      if (!strchr("slodiphcrtv", lower) || !alpha(l)) goto done;
      if (!explain && (lower == 'c' || lower == 'r' || lower == 't')) goto done;
      while (i < n && digit(s[i])) {
        havedigits = 1;
        keep = keep * 10 + (unsigned long)(s[i++] - '0');
        if (keep > 1000) goto done;
      }
      if (havedigits && keep == 0) goto done;
      if (i < n && (s[i] == 'r' || s[i] == 'R')) { rev = 1; ++i; }
      while (i < n && strchr(".-+,/_=", s[i]) && s[i]) {
        if (nd < sizeof delims && !memchr(delims, s[i], nd)) delims[nd++] = s[i];
        ++i;
      }
      if (i >= n || s[i] != '}') goto done;
      ++i;
      if (!nd) delims[nd++] = '.';
      if (dry) continue;
      if (!macroval(c, lower, domain, &v)) { if (errno == EINVAL) goto done; goto nomem; }
      /* split into parts, NUL-separated in parts */
      parts.len = 0;
      cnt = 1;
      for (k = 0; k < v.len; ++k) {
        if (memchr(delims, v.s[k], nd)) { if (!sa_append(&parts, 0)) goto nomem; ++cnt; }
        else if (!sa_append(&parts, v.s[k])) goto nomem;
      }
      if (!sa_append(&parts, 0)) goto nomem;
      /* order: reversed or not; keep the rightmost `keep` */
      {
        const char **pp = malloc(cnt * sizeof *pp);
        size_t m = 0, from, pos;
        if (!pp) goto nomem;
        for (pos = 0; pos < parts.len; pos += strlen(parts.s + pos) + 1) pp[m++] = parts.s + pos;
        if (rev) for (k = 0; k < m / 2; ++k) { const char *t = pp[k]; pp[k] = pp[m - 1 - k]; pp[m - 1 - k] = t; }
        from = keep && keep < m ? m - keep : 0;
        start = out->len;
        for (k = from; k < m; ++k) {
          if (k > from && !sa_append(out, '.')) { free(pp); goto nomem; }
          if (upper ? !urlescape(out, pp[k], strlen(pp[k])) : !sa_cats(out, pp[k])) { free(pp); goto nomem; }
        }
        free(pp);
        end = out->len;
        (void)start; (void)end;
      }
    }
  }
  ret = 1;
  goto done;
nomem:
  ret = -1;
done:
  sa_free(&v);
  sa_free(&parts);
  sa_free(&dummy);
  return ret;
}

/* toplabel_ok - a domain-spec that ends in literal text must end in a
 * valid top label (RFC 7208 7.1 domain-end) */
static int domainend_ok(const char *s, size_t n)
{
  size_t e, b;
  int hasalpha = 0;
  if (n && s[n - 1] == '}') return 1;     /* ends in a macro-expand */
  e = n;
  if (e && s[e - 1] == '.') --e;
  b = byte_rchr(s, e, '.');
  if (b == e) return 0;
  ++b;
  if (b >= e) return 0;
  if (s[b] == '-' || s[e - 1] == '-') return 0;
  for (size_t k = b; k < e; ++k) {
    if (alpha(s[k])) hasalpha = 1;
    else if (!digit(s[k]) && s[k] != '-') return 0;
  }
  if (!hasalpha) {                         /* all digits and dashes: needs a dash */
    return memchr(s + b, '-', e - b) != 0;
  }
  return 1;
}

/* target - the domain a mechanism names: its expanded argument (at most
 * 253 bytes, cut from the left) or the current domain */
static int target(struct ctx *c, const struct term *t, const char *domain, char *out)
{
  sa x = SA_ZERO;
  int r;
  size_t off = 0;

  if (!t->arg) { strcpy(out, domain); return 1; }
  r = expand(c, t->arg, t->alen, domain, 0, &x);
  if (r <= 0) { if (r < 0) c->nomem = 1; sa_free(&x); return r < 0 ? -1 : 0; }
  if (x.len && x.s[x.len - 1] == '.') --x.len;
  while (x.len - off > 253) {               /* drop labels from the left */
    size_t d = byte_chr(x.s + off, x.len - off, '.');
    off += d < x.len - off ? d + 1 : x.len - off;
  }
  memcpy(out, x.s + off, x.len - off);
  out[x.len - off] = 0;
  sa_free(&x);
  return 1;
}

/* ---- parsing a record ---- */

static int macro_ok(const char *s, size_t n) { return expand(0, s, n, "", 0, 0) == 1; }

static int scan_cidr(const char *s, size_t n, size_t *i, unsigned max, unsigned *out)
{
  unsigned long v = 0;
  size_t k = *i, st;
  if (k >= n || s[k] != '/') return 1;
  st = ++k;
  while (k < n && digit(s[k])) { v = v * 10 + (unsigned long)(s[k] - '0'); if (v > 1000) return 0; ++k; }
  if (k == st || v > max) return 0;
  if (k - st > 1 && s[st] == '0') return 0;   /* no leading zeros */
  *out = (unsigned)v;
  *i = k;
  return 1;
}

static const struct { const char *name; int kind; } mechs[] = {
  { "all", M_ALL }, { "include", M_INCLUDE }, { "a", M_A }, { "mx", M_MX }, { "ptr", M_PTR },
  { "ip4", M_IP4 }, { "ip6", M_IP6 }, { "exists", M_EXISTS }, { 0, 0 }
};

/* parse - the terms of record r (after "v=spf1"); 0 on a syntax error */
static int parse(const char *r, size_t n, struct term *t, size_t *nt)
{
  size_t i = 0, s, e, k, m;
  int redirect = 0, exp = 0;

  *nt = 0;
  while (i < n) {
    if (r[i] == ' ') { ++i; continue; }
    s = i;
    e = i + byte_chr(r + i, n - i, ' ');
    i = e;
    if (*nt >= MAXTERMS) return 0;
    struct term *x = &t[(*nt)++];
    memset(x, 0, sizeof *x);
    x->c4 = 32; x->c6 = 128;
    x->qual = '+';
    for (k = s; k < e; ++k) if ((unsigned char)r[k] < 33 || (unsigned char)r[k] > 126) return 0;
    /* a modifier: name "=" */
    k = s;
    if (alpha(r[k])) {
      while (k < e && (alnum(r[k]) || r[k] == '-' || r[k] == '_' || r[k] == '.')) ++k;
      if (k < e && r[k] == '=') {
        x->arg = r + k + 1;
        x->alen = e - k - 1;
        if (k - s == 8 && !case_diffb(r + s, 8, "redirect")) { x->kind = MOD_REDIRECT; if (redirect++) return 0; }
        else if (k - s == 3 && !case_diffb(r + s, 3, "exp")) { x->kind = MOD_EXP; if (exp++) return 0; }
        else x->kind = MOD_OTHER;
        if (x->kind != MOD_OTHER && (!x->alen || !domainend_ok(x->arg, x->alen))) return 0;
        if (!macro_ok(x->arg, x->alen)) return 0;
        continue;
      }
    }
    k = s;
    if (strchr("+-~?", r[k])) x->qual = r[k++];
    for (m = 0; mechs[m].name; ++m) {
      size_t l = strlen(mechs[m].name);
      if (e - k >= l && !case_diffb(r + k, l, mechs[m].name) && (e - k == l || r[k + l] == ':' || r[k + l] == '/')) break;
    }
    if (!mechs[m].name) return 0;
    x->kind = mechs[m].kind;
    k += strlen(mechs[m].name);
    switch (x->kind) {
      case M_ALL:
        if (k != e) return 0;
        break;
      case M_INCLUDE: case M_EXISTS: case M_PTR:
        if (k < e && r[k] != ':') return 0;
        if (k < e) { x->arg = r + k + 1; x->alen = e - k - 1; if (!x->alen || !domainend_ok(x->arg, x->alen) || !macro_ok(x->arg, x->alen)) return 0; }
        else if (x->kind != M_PTR) return 0;
        break;
      case M_A: case M_MX: {
        /* a dual-cidr suffix ("/n", "//n" or both) ends the term; the
         * domain-spec before it may hold any visible byte, '/' and ':' too */
        size_t end = e, q;
        q = end;
        while (q > k && digit(r[q - 1])) --q;
        if (q < end && q >= k + 2 && r[q - 1] == '/' && r[q - 2] == '/') {
          size_t z = q - 2;
          if (!scan_cidr(r, end, &(size_t){ q - 1 }, 128, &x->c6)) return 0;
          end = z;
          q = end;
          while (q > k && digit(r[q - 1])) --q;
        }
        if (q < end && q >= k + 1 && r[q - 1] == '/') {
          if (!scan_cidr(r, end, &(size_t){ q - 1 }, 32, &x->c4)) return 0;
          end = q - 1;
        }
        if (k < end && r[k] == ':') {
          x->arg = r + k + 1; x->alen = end - k - 1;
          if (!x->alen || !domainend_ok(x->arg, x->alen) || !macro_ok(x->arg, x->alen)) return 0;
        } else if (k != end) return 0;
        break;
      }
      case M_IP4: case M_IP6: {
        size_t slash;
        if (k >= e || r[k] != ':') return 0;
        ++k;
        slash = k + byte_chr(r + k, e - k, '/');
        if (!ipaddr_scan(&x->net, r + k, slash - k)) return 0;
        if ((x->kind == M_IP4) != (x->net.af == AF_INET)) return 0;
        if (x->kind == M_IP4) {                   /* four decimal parts, nothing else */
          size_t dots = 0;
          for (size_t q = k; q < slash; ++q) { if (r[q] == '.') ++dots; else if (!digit(r[q])) return 0; }
          if (dots != 3) return 0;
        }
        k = slash;
        if (!scan_cidr(r, e, &k, x->kind == M_IP4 ? 32 : 128, x->kind == M_IP4 ? &x->c4 : &x->c6)) return 0;
        if (k != e) return 0;
        break;
      }
    }
  }
  /* every modifier's macro-string must be well-formed: checked at use, but
   * unknown modifiers too, now */
  return 1;
}

/* ---- matching ---- */

static int inprefix(const struct ipaddr *ip, const unsigned char *net, int af, unsigned bits)
{
  unsigned full = bits / 8, rest = bits % 8;
  if (ip->af != af) return 0;
  if (memcmp(ip->a, net, full)) return 0;
  if (rest && ((ip->a[full] ^ net[full]) & (0xff << (8 - rest)) & 0xff)) return 0;
  return 1;
}

/* addrmatch - does name have an address of the client's family within the
 * prefix? 1 yes, 0 no, DNS_SOFT, DNS_HARD/void as 2 */
static int addrmatch(struct ctx *c, const char *name, unsigned c4, unsigned c6, int *isvoid)
{
  unsigned type = c->ip.af == AF_INET ? DNS_T_A : DNS_T_AAAA;
  int r = query(c, name, type);
  *isvoid = 0;
  if (r == DNS_MEM) { c->nomem = 1; return DNS_SOFT; }
  if (r == DNS_SOFT) return DNS_SOFT;
  if (r == DNS_HARD || !c->ans->n) { *isvoid = 1; return 0; }
  for (size_t i = 0; i < c->ans->n; ++i)
    if (inprefix(&c->ip, c->ans->rr[i].ip, c->ip.af, c->ip.af == AF_INET ? c4 : c6)) return 1;
  return 0;
}

/* reverse name of the client's address */
static void revname(const struct ipaddr *ip, char *out)
{
  sa x = SA_ZERO;
  char buf[80];
  size_t o = 0;
  static const char hex[] = "0123456789abcdef";
  (void)x;
  if (ip->af == AF_INET) {
    for (int i = 3; i >= 0; --i) { o += fmt_ulong(buf + o, ip->a[i]); buf[o++] = '.'; }
    strcpy(buf + o, "in-addr.arpa");
  } else {
    for (int i = 15; i >= 0; --i) {
      buf[o++] = hex[ip->a[i] & 15]; buf[o++] = '.';
      buf[o++] = hex[ip->a[i] >> 4]; buf[o++] = '.';
    }
    strcpy(buf + o, "ip6.arpa");
  }
  strcpy(out, buf);
}

static int suffix_of(const char *name, const char *dom)
{
  size_t n = strlen(name), d = strlen(dom);
  if (n && name[n - 1] == '.') --n;
  if (d && dom[d - 1] == '.') --d;
  if (n < d || case_diffb(name + n - d, d, dom)) return 0;
  return n == d || name[n - d - 1] == '.';
}

/* validate_ptr - a PTR name of the client that resolves back to it and is
 * target or below it (found gets it); 1 found, 0 not, -1 DNS_SOFT on PTR */
static int validate_ptr(struct ctx *c, const char *tgt, char *found)
{
  char rev[80], list[MAXNAMES][DNS_NAMELEN];
  size_t n = 0, i, k;
  int r, v;

  revname(&c->ip, rev);
  r = query(c, rev, DNS_T_PTR);
  if (r == DNS_MEM) c->nomem = 1;
  if (r != DNS_OK) return r == DNS_SOFT ? -1 : 0;
  for (i = 0; i < c->ans->n && n < MAXNAMES; ++i) strcpy(list[n++], c->ans->rr[i].name);
  /* names at or below the target first, then the others (for %{p}) */
  for (int pass = 0; pass < 2; ++pass)
    for (k = 0; k < n; ++k) {
      if ((suffix_of(list[k], tgt) != 0) != (pass == 0)) continue;
      r = addrmatch(c, list[k], 32, 128, &v);
      if (r == 1) { strcpy(found, list[k]); return pass == 0 ? 1 : 2; }
    }
  return 0;
}

static enum spf_result check_host(struct ctx *c, const char *domain, int depth);

static int voidlookup(struct ctx *c) { return ++c->voids > MAXVOID; }

/* explain - the explanation of a fail from exp= (errors: none) */
static void explain(struct ctx *c, const struct term *e, const char *domain)
{
  char d[DNS_NAMELEN];
  sa txt = SA_ZERO;
  size_t n;
  struct dns_conf conf = *c->q->dns;
  long long left = c->deadline - now_ms();

  c->exp->len = 0;
  if (target(c, e, domain, d) != 1 || !d[0] || left <= 0) return;
  if (conf.timeout_ms > left) conf.timeout_ms = (unsigned)left;
  if (dns_txt(&conf, d, &txt, &n) == DNS_OK && n == 1)
    if (expand(c, txt.s, strlen(txt.s), domain, 1, c->exp) != 1) c->exp->len = 0;
  sa_free(&txt);
}

static enum spf_result qualres(char q)
{
  switch (q) {
    case '-': return SPF_FAIL;
    case '~': return SPF_SOFTFAIL;
    case '?': return SPF_NEUTRAL;
  }
  return SPF_PASS;
}

static enum spf_result evaluate(struct ctx *c, const char *domain, const struct term *t, size_t nt, int depth)
{
  char tgt[DNS_NAMELEN], found[DNS_NAMELEN];
  const struct term *redirect = 0, *exp = 0;
  size_t i, k;
  int r, v, match;

  for (i = 0; i < nt; ++i) {
    if (t[i].kind == MOD_REDIRECT) redirect = &t[i];
    if (t[i].kind == MOD_EXP) exp = &t[i];
  }
  for (i = 0; i < nt; ++i) {
    const struct term *x = &t[i];
    if (x->kind >= MOD_REDIRECT) continue;
    match = 0;
    if (x->kind == M_INCLUDE || x->kind == M_A || x->kind == M_MX || x->kind == M_PTR || x->kind == M_EXISTS)
      if (++c->lookups > MAXLOOKUPS) { c->why = "more than 10 DNS lookups"; return SPF_PERMERROR; }
    if (x->kind != M_ALL && x->kind != M_IP4 && x->kind != M_IP6) {
      r = target(c, x, domain, tgt);
      if (r < 0) return SPF_TEMPERROR;
      if (r == 0) { c->why = "bad macro"; return SPF_PERMERROR; }
    }
    switch (x->kind) {
      case M_ALL: match = 1; break;
      case M_IP4: match = inprefix(&c->ip, x->net.a, AF_INET, x->c4); break;
      case M_IP6: match = inprefix(&c->ip, x->net.a, AF_INET6, x->c6); break;
      case M_A:
        r = addrmatch(c, tgt, x->c4, x->c6, &v);
        if (r == DNS_SOFT) { c->why = "DNS error on a"; return SPF_TEMPERROR; }
        if (v && voidlookup(c)) { c->why = "more than 2 void lookups"; return SPF_PERMERROR; }
        match = r == 1;
        break;
      case M_EXISTS:
        r = query(c, tgt, DNS_T_A);
        if (r == DNS_MEM) { c->nomem = 1; return SPF_TEMPERROR; }
        if (r == DNS_SOFT) { c->why = "DNS error on exists"; return SPF_TEMPERROR; }
        if (r == DNS_HARD || !c->ans->n) { if (voidlookup(c)) { c->why = "more than 2 void lookups"; return SPF_PERMERROR; } }
        else match = 1;
        break;
      case M_MX: {
        char mx[MAXNAMES][DNS_NAMELEN];
        size_t n = 0;
        r = query(c, tgt, DNS_T_MX);
        if (r == DNS_MEM) { c->nomem = 1; return SPF_TEMPERROR; }
        if (r == DNS_SOFT) { c->why = "DNS error on mx"; return SPF_TEMPERROR; }
        if (r == DNS_HARD || !c->ans->n) { if (voidlookup(c)) { c->why = "more than 2 void lookups"; return SPF_PERMERROR; } break; }
        if (c->ans->n > MAXNAMES) { c->why = "more than 10 MX names"; return SPF_PERMERROR; }
        for (k = 0; k < c->ans->n; ++k) if (c->ans->rr[k].name[0]) strcpy(mx[n++], c->ans->rr[k].name);
        for (k = 0; k < n && !match; ++k) {
          r = addrmatch(c, mx[k], x->c4, x->c6, &v);
          if (r == DNS_SOFT) { c->why = "DNS error on an MX host"; return SPF_TEMPERROR; }
          match = r == 1;
        }
        break;
      }
      case M_PTR:
        r = validate_ptr(c, tgt, found);
        if (c->nomem) return SPF_TEMPERROR;
        match = r == 1;
        break;
      case M_INCLUDE: {
        enum spf_result ir;
        if (depth >= MAXDEPTH) { c->why = "includes nested too deep"; return SPF_PERMERROR; }
        ir = check_host(c, tgt, depth + 1);
        c->exp->len = 0;                     /* an included fail explains nothing */
        switch (ir) {
          case SPF_PASS: match = 1; break;
          case SPF_TEMPERROR: return SPF_TEMPERROR;
          case SPF_PERMERROR: return SPF_PERMERROR;
          case SPF_NONE: c->why = "include of a domain without SPF"; return SPF_PERMERROR;
          default: break;
        }
        break;
      }
    }
    if (match) {
      enum spf_result res = qualres(x->qual);
      if (res == SPF_FAIL && exp) explain(c, exp, domain);
      if (!c->why) c->why = "matched";
      return res;
    }
  }
  /* unknown modifiers: their macro-strings must still be valid */
  for (i = 0; i < nt; ++i)
    if (t[i].kind == MOD_OTHER) {
      sa x = SA_ZERO;
      r = expand(c, t[i].arg, t[i].alen, domain, 0, &x);
      sa_free(&x);
      if (r < 0) { c->nomem = 1; return SPF_TEMPERROR; }
      if (r == 0) { c->why = "bad macro in a modifier"; return SPF_PERMERROR; }
    }
  if (redirect) {
    enum spf_result rr;
    if (++c->lookups > MAXLOOKUPS) { c->why = "more than 10 DNS lookups"; return SPF_PERMERROR; }
    if (depth >= MAXDEPTH) { c->why = "redirects nested too deep"; return SPF_PERMERROR; }
    r = target(c, redirect, domain, tgt);
    if (r < 0) return SPF_TEMPERROR;
    if (r == 0) { c->why = "bad macro"; return SPF_PERMERROR; }
    rr = check_host(c, tgt, depth + 1);
    if (rr == SPF_NONE) { c->why = "redirect to a domain without SPF"; return SPF_PERMERROR; }
    return rr;
  }
  c->why = "no term matched";
  return SPF_NEUTRAL;
}

static enum spf_result check_host(struct ctx *c, const char *domain, int depth)
{
  sa txt = SA_ZERO;
  struct dns_conf conf = *c->q->dns;
  struct term *t = 0;
  const char *rec = 0;
  size_t n, nt, pos, found = 0;
  long long left = c->deadline - now_ms();
  enum spf_result res;
  int r;

  if (!validdomain(domain)) { c->why = "not a domain name"; return SPF_NONE; }
  if (left <= 0) { c->why = "out of time"; return SPF_TEMPERROR; }
  if (conf.timeout_ms > left) conf.timeout_ms = (unsigned)left;
  r = dns_txt(&conf, domain, &txt, &n);
  if (r == DNS_MEM) { c->nomem = 1; return SPF_TEMPERROR; }
  if (r == DNS_SOFT) { c->why = "DNS error on the SPF record"; sa_free(&txt); return SPF_TEMPERROR; }
  if (r == DNS_HARD) { c->why = "no such domain"; sa_free(&txt); return SPF_NONE; }
  for (pos = 0; pos < txt.len; pos += strlen(txt.s + pos) + 1) {
    const char *x = txt.s + pos;
    if (case_diffb(x, 6, "v=spf1") || (x[6] && x[6] != ' ')) continue;
    if (strlen(x) < 6) continue;
    rec = x;
    ++found;
  }
  if (!found) { c->why = "no SPF record"; sa_free(&txt); return SPF_NONE; }
  if (found > 1) { c->why = "more than one SPF record"; sa_free(&txt); return SPF_PERMERROR; }
  t = malloc(MAXTERMS * sizeof *t);
  if (!t) { c->nomem = 1; sa_free(&txt); return SPF_TEMPERROR; }
  /* a NUL in the record (DEL here) or any byte outside printable ASCII is a syntax error */
  if (!parse(rec + 6, strlen(rec + 6), t, &nt)) { c->why = "syntax error in the SPF record"; res = SPF_PERMERROR; }
  else res = evaluate(c, domain, t, nt, depth);
  free(t);
  sa_free(&txt);
  return res;
}

enum spf_result spf_check(const struct spf_query *q, sa *exp, const char **why)
{
  struct ctx c;
  char local[DNS_NAMELEN * 4], odomain[DNS_NAMELEN];
  const char *at;
  enum spf_result r;
  size_t ln;
  static const unsigned char mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

  memset(&c, 0, sizeof c);
  c.q = q;
  c.exp = exp;
  exp->len = 0;
  c.ip = q->ip;
  if (c.ip.af == AF_INET6 && !memcmp(c.ip.a, mapped, 12)) {
    memmove(c.ip.a, c.ip.a + 12, 4);
    memset(c.ip.a + 4, 0, 12);
    c.ip.af = AF_INET;
  }
  c.deadline = now_ms() + (q->deadline_ms ? q->deadline_ms : 20000);
  at = strrchr(q->sender, '@');
  if (q->sender[0] && at) {
    ln = (size_t)(at - q->sender);
    if (!ln || ln >= sizeof local) strcpy(local, "postmaster");
    else { memcpy(local, q->sender, ln); local[ln] = 0; }
    if (strlen(at + 1) >= sizeof odomain) { *why = "not a domain name"; return SPF_NONE; }
    strcpy(odomain, at + 1);
  } else if (q->sender[0]) {              /* no @: the whole is a domain (RFC 7208 4.3) */
    strcpy(local, "postmaster");
    if (strlen(q->sender) >= sizeof odomain) { *why = "not a domain name"; return SPF_NONE; }
    strcpy(odomain, q->sender);
  } else {
    strcpy(local, "postmaster");
    if (strlen(q->helo) >= sizeof odomain) { *why = "not a domain name"; return SPF_NONE; }
    strcpy(odomain, q->helo);
  }
  c.local = local;
  c.odomain = odomain;
  c.ans = malloc(sizeof *c.ans);
  if (!c.ans) { *why = "out of memory"; return SPF_TEMPERROR; }
  r = check_host(&c, odomain, 0);
  free(c.ans);
  if (c.nomem) { *why = "out of memory"; return SPF_TEMPERROR; }
  if (r != SPF_FAIL) exp->len = 0;
  *why = c.why ? c.why : "";
  return r;
}
