/* Parsing of the MAIL FROM and RCPT TO arguments, and the recognition of
 * this host's own IP addresses in box@[d.d.d.d]. */
#include <limits.h>
#include <string.h>
#include <sys/socket.h>

#include "qmail-smtpd.h"
#include "ipaddr.h"
#include "str.h"
#include "envaddr.h"
#include "ipme.h"

const char *addr_err = "555 syntax error (#5.5.4)\r\n";

/* the host's addresses, looked up the first time a literal shows up */
static ipme me;
static int ipme_done;

/* literal_is_me - is s[0..n), the text between [ and ], one of our IPs?
 * IPv6 literals carry the "IPv6:" tag of RFC 5321 */
static int literal_is_me(const char *s, size_t n)
{
  struct ipaddr ip;
  int v6 = n > 5 && !case_diffb(s, 5, "IPv6:");

  if (v6) { s += 5; n -= 5; }
  if (!ipaddr_scan(&ip, s, n)) return 0;
  if (ip.af != (v6 ? AF_INET6 : AF_INET)) return 0;
  if (!ipme_done) {
    if (!ipme_init(&me)) die_ipme();
    ipme_done = 1;
  }
  return ipme_is(&me, &ip);
}

/* keyword - the length of "FROM:" or "TO:" (any case, blanks allowed
 * before the colon) at the start of arg, or 0 when it is not there */
static size_t keyword(const char *arg, size_t len)
{
  size_t k;

  if (len >= 4 && !case_diffb(arg, 4, "from")) k = 4;
  else if (len >= 2 && !case_diffb(arg, 2, "to")) k = 2;
  else return 0;
  while (k < len && arg[k] == ' ') ++k;
  return k < len && arg[k] == ':' ? k + 1 : 0;
}

int addr_parse(sa *addr, const char *arg, size_t len, size_t *params, const sa *liphost)
{
  size_t i, at;
  char term = '>';
  int flagesc = 0, flagquoted = 0;

  /* anywhere in the argument, quoted or not: the one check every
   * receiver shares (a NUL splits an envelope record, a CR or LF would
   * end a header line in Delivered-To) */
  if (envaddr_bad(arg, len)) {
    addr_err = "501 sorry, an address may not contain CR, LF or NUL (#5.5.4)\r\n";
    return 0;
  }
  /* an address in brackets is taken wherever it stands, as qmail did
   * (mail <addr> is how people type it); one without brackets must come
   * after FROM: or TO:, so that MAIL FROM x is not a sender called FROM */
  addr_err = "555 syntax error (#5.5.4)\r\n";
  i = byte_chr(arg, len, '<');
  if (i < len) ++i;
  else {
    term = ' ';
    i = keyword(arg, len);
    if (!i) {
      addr_err = "501 syntax error, expected FROM:<address> or TO:<address> (#5.5.4)\r\n";
      return 0;
    }
    while (i < len && arg[i] == ' ') ++i;
  }
  if (i < len && arg[i] == '@') {      /* source route @a,@b:box@host */
    while (i < len && arg[i] != ':') ++i;
    if (i < len) ++i;
  }
  addr->len = 0;
  for (; i < len; ++i) {
    char c = arg[i];
    if (flagesc) { flagesc = 0; }
    else if (!flagquoted && c == term) { ++i; break; }
    else if (c == '\\') { flagesc = 1; continue; }
    else if (c == '"') { flagquoted = !flagquoted; continue; }
    if (addr->len >= SMTPD_ADDRMAX) return 0;
    if (!sa_append(addr, c)) die_nomem();
  }
  *params = i;
  if (!addr->s && !sa_copyb(addr, "", 0)) die_nomem();

  /* box@[ip of this host] becomes box@localiphost, before rcpthosts */
  at = byte_rchr(addr->s, addr->len, '@');
  if (liphost && at < addr->len && addr->len - at > 3 &&
      addr->s[at + 1] == '[' && addr->s[addr->len - 1] == ']' &&
      literal_is_me(addr->s + at + 2, addr->len - at - 3)) {
    addr->len = at + 1;
    if (!sa_cat(addr, liphost)) die_nomem();
    if (addr->len > SMTPD_ADDRMAX) return 0;
  }
  return 1;
}

int param_has(const char *p, size_t len, const char *kw)
{
  size_t i = 0, j, n = strlen(kw);

  while (i < len) {
    while (i < len && p[i] == ' ') ++i;
    j = i;
    while (j < len && p[j] != ' ') ++j;
    if (j - i == n && !case_diffb(p + i, n, kw)) return 1;
    i = j;
  }
  return 0;
}

unsigned long param_size(const char *p, size_t len)
{
  size_t i = 0, j;
  unsigned long v;

  while (i < len) {
    while (i < len && p[i] == ' ') ++i;
    j = i;
    while (j < len && p[j] != ' ') ++j;
    if (j - i > 5 && !case_diffb(p + i, 5, "SIZE=")) {
      v = 0;
      for (i += 5; i < j && p[i] >= '0' && p[i] <= '9'; ++i)
        if (__builtin_mul_overflow(v, 10UL, &v) ||
            __builtin_add_overflow(v, (unsigned long)(p[i] - '0'), &v)) return ULONG_MAX;
      return v;
    }
    i = j;
  }
  return 0;
}
