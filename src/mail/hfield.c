#include <string.h>

#include "hfield.h"
#include "str.h"

/* skipline - drop input through the next newline. 1, 0 at EOF, -1 error */
static int skipline(bio *in)
{
  for (;;) {
    ssize_t r = bio_feed(in);
    const char *nl;
    if (r <= 0) return (int)r;
    nl = memchr(bio_peek(in), '\n', (size_t)r);
    if (nl) { bio_skip(in, (size_t)(nl - bio_peek(in)) + 1); return 1; }
    bio_skip(in, (size_t)r);
  }
}

/* oneline - append a line to f within max. 1 line read, 0 EOF, -1 error */
static int oneline(bio *in, sa *f, size_t max, int *cut)
{
  int r;

  if (f->s && f->len >= max) { *cut = 1; return skipline(in); }
  r = bio_getln(in, f, '\n', max);
  if (r == -2) { *cut = 1; return skipline(in); }
  if (r == 0) return f->s && f->len ? 1 : 0;
  return r;
}

int hfield_next(bio *in, sa *f, size_t max, int *cut)
{
  int r;
  ssize_t n;

  if (!sa_copys(f, "")) return -1;
  *cut = 0;
  r = oneline(in, f, max, cut);
  if (r <= 0) return r;
  if ((f->len == 1 && f->s[0] == '\n') || (f->len == 2 && f->s[0] == '\r' && f->s[1] == '\n'))
    return 0;
  for (;;) {
    n = bio_feed(in);
    if (n < 0) return -1;
    if (n == 0) return 1;
    if (*bio_peek(in) != ' ' && *bio_peek(in) != '\t') return 1;
    r = oneline(in, f, max, cut);
    if (r < 0) return -1;
    if (r == 0) return 1;
  }
}

int hfield_is(const sa *f, const char *name, size_t *body)
{
  size_t n = strlen(name), i;

  if (!f->s || f->len < n) return 0;
  if (case_diffb(f->s, n, name)) return 0;
  for (i = n; i < f->len && (f->s[i] == ' ' || f->s[i] == '\t'); ++i) {}
  if (i >= f->len || f->s[i] != ':') return 0;
  *body = i + 1;
  return 1;
}
