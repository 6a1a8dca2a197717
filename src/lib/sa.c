#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "sa.h"
#include "fmt.h"

int size_add(size_t *r, size_t a, size_t b)
{
  if (__builtin_add_overflow(a, b, r)) { errno = ERANGE; return 0; }
  return 1;
}

int size_mul(size_t *r, size_t a, size_t b)
{
  if (__builtin_mul_overflow(a, b, r)) { errno = ERANGE; return 0; }
  return 1;
}

/* sa_ready - make room for n bytes in all; grows by about 1/8 plus 32 */
int sa_ready(sa *x, size_t n)
{
  size_t want;
  char *t;

  if (x->s && n <= x->a) return 1;
  want = n;
  if (!size_add(&want, want, n >> 3)) want = n;
  if (!size_add(&want, want, 32)) want = n;
  t = realloc(x->s, want);
  if (!t) {
    if (want == n) { errno = ENOMEM; return 0; }
    want = n ? n : 1;
    t = realloc(x->s, want);
    if (!t) { errno = ENOMEM; return 0; }
  }
  x->s = t;
  x->a = want;
  return 1;
}

int sa_readyplus(sa *x, size_t n)
{
  size_t want;
  if (!size_add(&want, x->s ? x->len : 0, n)) return 0;
  if (!x->s) x->len = 0;
  return sa_ready(x, want);
}

int sa_copyb(sa *x, const char *s, size_t n)
{
  if (!sa_ready(x, n ? n : 1)) return 0;
  if (n) memmove(x->s, s, n);
  x->len = n;
  return 1;
}

int sa_copys(sa *x, const char *s) { return sa_copyb(x, s, strlen(s)); }
int sa_copy(sa *x, const sa *y) { return sa_copyb(x, y->s, y->len); }

int sa_catb(sa *x, const char *s, size_t n)
{
  if (!x->s) return sa_copyb(x, s, n);
  if (!sa_readyplus(x, n ? n : 1)) return 0;
  if (n) memmove(x->s + x->len, s, n);
  x->len += n;
  return 1;
}

int sa_cats(sa *x, const char *s) { return sa_catb(x, s, strlen(s)); }
int sa_cat(sa *x, const sa *y) { return sa_catb(x, y->s, y->len); }
int sa_append(sa *x, char c) { return sa_catb(x, &c, 1); }
int sa_0(sa *x) { return sa_catb(x, "", 1); }

int sa_catulong(sa *x, unsigned long u)
{
  char buf[FMT_ULONG];
  return sa_catb(x, buf, fmt_ulong(buf, u));
}

int sa_starts(const sa *x, const char *prefix)
{
  size_t n = strlen(prefix);
  return x->len >= n && memcmp(x->s, prefix, n) == 0;
}

void sa_free(sa *x)
{
  free(x->s);
  x->s = 0;
  x->len = 0;
  x->a = 0;
}
