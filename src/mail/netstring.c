#include <errno.h>
#include <string.h>

#include "netstring.h"

/* take - consume one byte under the budget; 1, 0 EOF, -1 error, -2 budget */
static int take(bio *b, size_t *budget, char *c)
{
  int r;
  if (budget) {
    if (!*budget) return -2;
  }
  r = bio_getc(b, c);
  if (r == 1 && budget) --*budget;
  return r;
}

int netstring_getlen(bio *b, size_t *budget, size_t max, size_t *len)
{
  size_t v = 0, digits = 0;
  char c;
  int r;

  for (;;) {
    r = take(b, budget, &c);
    if (r == -1) return -1;
    if (r == -2) return -2;
    if (r == 0) return digits ? -2 : 0;
    if (c == ':') break;
    if (c < '0' || c > '9') return -2;
    if (digits == 1 && v == 0) return -2;        /* leading zero */
    if (++digits > NETSTRING_DIGITS) return -2;
    if (__builtin_mul_overflow(v, (size_t)10, &v)) return -2;
    if (__builtin_add_overflow(v, (size_t)(c - '0'), &v)) return -2;
  }
  if (!digits) return -2;
  if (v > max) return -2;
  if (budget && v >= *budget) return -2;  /* the comma needs a byte too */
  *len = v;
  return 1;
}

int netstring_getcomma(bio *b, size_t *budget)
{
  char c;
  int r = take(b, budget, &c);
  if (r == -1) return -1;
  if (r != 1) return -2;
  return c == ',' ? 1 : -2;
}

int netstring_skip(bio *b, size_t *budget, size_t n)
{
  ssize_t r;
  size_t k;

  if (budget) {
    if (n > *budget) return -2;
  }
  while (n) {
    r = bio_feed(b);
    if (r < 0) return -1;
    if (r == 0) return -2;
    k = (size_t)r < n ? (size_t)r : n;
    bio_skip(b, k);
    n -= k;
    if (budget) *budget -= k;
  }
  return 1;
}

int netstring_getdata(bio *b, size_t *budget, size_t n, sa *out)
{
  size_t k;
  ssize_t r;

  if (budget) {
    if (n > *budget) return -2;
  }
  if (!sa_ready(out, n ? n : 1)) return -1;
  out->len = 0;
  while (out->len < n) {
    r = bio_feed(b);
    if (r < 0) return -1;
    if (r == 0) return -2;
    k = n - out->len;
    if ((size_t)r < k) k = (size_t)r;
    memcpy(out->s + out->len, bio_peek(b), k);
    bio_skip(b, k);
    out->len += k;
    if (budget) *budget -= k;
  }
  return 1;
}

int netstring_get(bio *b, size_t *budget, size_t max, sa *out)
{
  size_t len;
  int s;

  s = netstring_getlen(b, budget, max, &len);
  if (s != 1) return s;
  s = netstring_getdata(b, budget, len, out);
  if (s != 1) return s;
  return netstring_getcomma(b, budget);
}

int netstring_catlen(sa *out, size_t n)
{
  return sa_catulong(out, (unsigned long)n) && sa_append(out, ':');
}

int netstring_cat(sa *out, const char *s, size_t n)
{
  size_t want;
  /* digits + ':' + n + ',' */
  if (!size_add(&want, n, NETSTRING_DIGITS + 2)) return 0;
  if (!sa_readyplus(out, want)) return 0;
  return netstring_catlen(out, n) && sa_catb(out, s, n) && sa_append(out, ',');
}
