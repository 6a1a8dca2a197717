#include <string.h>

#include "spawnproto.h"
#include "scan.h"

int spawnproto_hello(sa *out, unsigned long limit)
{
  return sa_catulong(out, limit) && sa_0(out);
}

int spawnproto_cmd(sa *out, unsigned long slot, const char *messfn,
                   const char *sender, size_t slen,
                   const char *recips, size_t rlen, unsigned long n)
{
  return sa_catulong(out, slot) && sa_0(out)
      && sa_cats(out, messfn) && sa_0(out)
      && sa_catb(out, sender, slen) && sa_0(out)
      && sa_catulong(out, n) && sa_0(out)
      && sa_catb(out, recips, rlen);
}

int spawnproto_report(sa *out, unsigned long slot, unsigned long idx,
                      const char *report, size_t len)
{
  const char *z = memchr(report, 0, len);
  if (z) len = (size_t)(z - report);
  return sa_catulong(out, slot) && sa_0(out)
      && sa_catulong(out, idx) && sa_0(out)
      && sa_catb(out, report, len) && sa_0(out);
}

int spawnproto_num(const sa *field, unsigned long *u)
{
  size_t n;
  if (!field->len || !field->s) return 0;
  n = scan_ulongn(field->s, field->len - 1, u);
  return n && n == field->len - 1;
}

void spawnrd_init(spawnrd *r, unsigned nf, const size_t *max)
{
  unsigned i;
  if (nf > SPAWNRD_FIELDS) nf = SPAWNRD_FIELDS;
  r->nf = nf;
  for (i = 0; i < SPAWNRD_FIELDS; ++i) {
    r->f[i].s = 0; r->f[i].len = 0; r->f[i].a = 0;
    r->max[i] = i < nf ? max[i] : 0;
  }
  r->cur = 0;
  r->toolong = 0;
  r->nomem = 0;
}

size_t spawnrd_feed(spawnrd *r, const char *buf, size_t len, int *done)
{
  size_t i = 0;

  *done = 0;
  while (i < len) {
    sa *f = &r->f[r->cur];
    const char *z = memchr(buf + i, 0, len - i);
    size_t n = z ? (size_t)(z - (buf + i)) : len - i;
    size_t keep = n;
    if (f->len + keep > r->max[r->cur]) {
      keep = f->len < r->max[r->cur] ? r->max[r->cur] - f->len : 0;
      r->toolong = 1;
    }
    if (keep && !r->nomem && !sa_catb(f, buf + i, keep)) r->nomem = 1;
    i += n;
    if (!z) break;
    ++i;                                   /* the NUL */
    if (!r->nomem && !sa_0(f)) r->nomem = 1;
    if (++r->cur == r->nf) { *done = 1; break; }
  }
  return i;
}

void spawnrd_reset(spawnrd *r)
{
  unsigned i;
  for (i = 0; i < SPAWNRD_FIELDS; ++i) r->f[i].len = 0;
  r->cur = 0;
  r->toolong = 0;
  r->nomem = 0;
}

void spawnrd_free(spawnrd *r)
{
  unsigned i;
  for (i = 0; i < SPAWNRD_FIELDS; ++i) sa_free(&r->f[i]);
}
