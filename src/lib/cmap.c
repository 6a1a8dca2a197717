#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cmap.h"
#include "sa.h"

static unsigned char low(unsigned char c)
{
  return (c >= 'A' && c <= 'Z') ? (unsigned char)(c + 32) : c;
}

static unsigned long hash(const char *s, size_t n)
{
  unsigned long h = 5381;
  while (n--) h = (h * 33) ^ low((unsigned char)*s++);
  return h;
}

static int same(const char *a, const char *b, size_t n)
{
  while (n--) if (low((unsigned char)*a++) != low((unsigned char)*b++)) return 0;
  return 1;
}

static cmap_ent *slot(const cmap *m, const char *k, size_t klen, unsigned long h)
{
  size_t i = h & (m->size - 1);
  for (;;) {
    cmap_ent *e = m->t + i;
    if (!e->k) return e;
    if (e->h == h && e->klen == klen && same(e->k, k, klen)) return e;
    i = (i + 1) & (m->size - 1);
  }
}

int cmap_init(cmap *m, const char *lines, size_t len, int colon)
{
  size_t i, count = 1, size = 1, bytes, want, dlen;
  char *p;

  m->data = 0; m->t = 0; m->size = 0; m->n = 0;
  if (!len) return 1;
  /* one entry per NUL, plus a last line that may lack its NUL */
  for (i = 0; i < len; ++i) if (!lines[i]) ++count;
  if (!size_mul(&want, count, 2) || !size_add(&want, want, 2)) return 0;
  while (size < want) {
    if (!size_mul(&size, size, 2)) return 0;
  }
  if (!size_mul(&bytes, size, sizeof *m->t) || !size_add(&dlen, len, 1)) return 0;
  m->data = malloc(dlen);
  m->t = calloc(size, sizeof *m->t);
  if (!m->data || !m->t) { free(m->data); free(m->t); m->data = 0; m->t = 0; errno = ENOMEM; return 0; }
  memcpy(m->data, lines, len);
  m->data[len] = 0;                /* every line ends in a NUL, even the last */
  m->size = size;
  p = m->data;
  while (p < m->data + len) {
    size_t l = strlen(p), klen = l;
    const char *v = p + l;           /* the empty string at the NUL */
    cmap_ent *e;
    if (colon) {
      char *c = memchr(p, ':', l);
      if (c) { *c = 0; klen = (size_t)(c - p); v = c + 1; }
    }
    {
      unsigned long h = hash(p, klen);
      e = slot(m, p, klen, h);
      if (!e->k) { e->k = p; e->klen = klen; e->v = v; e->h = h; ++m->n; }
    }
    p += l + 1;
  }
  return 1;
}

const char *cmap_get(const cmap *m, const char *key, size_t klen)
{
  cmap_ent *e;
  if (!m->size) return 0;
  e = slot(m, key, klen, hash(key, klen));
  return e->k ? e->v : 0;
}

void cmap_free(cmap *m)
{
  free(m->data);
  free(m->t);
  m->data = 0; m->t = 0; m->size = 0; m->n = 0;
}
