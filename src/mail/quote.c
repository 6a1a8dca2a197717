#include <errno.h>

#include "quote.h"
#include "str.h"

/* atext - RFC 5322 atom characters, plus any byte >= 128 */
static int atext(unsigned char c)
{
  if (c >= 128) return 1;
  if (c >= 'a' && c <= 'z') return 1;
  if (c >= 'A' && c <= 'Z') return 1;
  if (c >= '0' && c <= '9') return 1;
  switch (c) {
    case '!': case '#': case '$': case '%': case '&': case '\'': case '*':
    case '+': case '-': case '/': case '=': case '?': case '^': case '_':
    case '`': case '{': case '|': case '}': case '~':
      return 1;
  }
  return 0;
}

int quote_need(const char *s, size_t n)
{
  size_t i;

  if (!n) return 1;
  if (s[0] == '.' || s[n - 1] == '.') return 1;
  for (i = 0; i < n; ++i) {
    if (s[i] == '.') {
      if (s[i + 1] == '.') return 1; /* i + 1 < n: s[n - 1] is not '.' */
      continue;
    }
    if (!atext((unsigned char)s[i])) return 1;
  }
  return 0;
}

/* linebreak - CR and LF cannot be quoted in a header field */
static int linebreak(unsigned char c) { return c == '\r' || c == '\n'; }

/* escaped - backslash before these inside a quoted string */
static int escaped(unsigned char c)
{
  return c == '"' || c == '\\' || (c < 32 && !linebreak(c)) || c == 127;
}

int quote_cat(sa *out, const char *s, size_t n)
{
  size_t i, extra = 2, want, len0;

  if (!quote_need(s, n)) return sa_catb(out, s, n);
  for (i = 0; i < n; ++i)
    if (escaped((unsigned char)s[i]))
      if (!size_add(&extra, extra, 1)) return 0;
  if (!size_add(&want, n, extra)) return 0;
  if (!sa_readyplus(out, want)) return 0;
  len0 = out->s ? out->len : 0;
  out->s[len0++] = '"';
  for (i = 0; i < n; ++i) {
    unsigned char c = (unsigned char)s[i];
    if (escaped(c)) out->s[len0++] = '\\';
    out->s[len0++] = linebreak(c) ? '_' : (char)c;
  }
  out->s[len0++] = '"';
  out->len = len0;
  return 1;
}

/* literal - whether d[0..n) is one domain literal that reads back as
 * itself: [ ... ] with no bracket, backslash or line break inside */
static int literal(const char *d, size_t n)
{
  size_t i;
  if (n < 2 || d[0] != '[' || d[n - 1] != ']') return 0;
  for (i = 1; i + 1 < n; ++i)
    switch (d[i]) {
      case '[': case ']': case '\\': case '\r': case '\n': return 0;
    }
  return 1;
}

int quote_domain(sa *out, const char *s, size_t n)
{
  if (!n || literal(s, n)) return sa_catb(out, s, n);
  return quote_cat(out, s, n);
}

int quote_addr(sa *out, const char *s, size_t n)
{
  size_t at;
  size_t len0 = out->s ? out->len : 0;

  if (!n) return sa_readyplus(out, 0);
  at = byte_rchr(s, n, '@');
  if (!quote_cat(out, s, at)) return 0;
  if (at < n && (!sa_append(out, '@') || !quote_domain(out, s + at + 1, n - at - 1))) {
    int e = errno;
    out->len = len0;
    errno = e;
    return 0;
  }
  return 1;
}
