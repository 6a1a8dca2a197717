#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rcpthosts.h"
#include "control.h"
#include "open.h"
#include "str.h"

static int cmp(const void *a, const void *b)
{
  return strcmp(*(const char *const *)a, *(const char *const *)b);
}

int rcpthosts_init(rcpthosts *r)
{
  size_t i, k, bytes;
  int e;

  memset(r, 0, sizeof *r);
  r->fdmrh = -1;
  r->flagrh = control_readfile(&r->rh, "control/rcpthosts");
  if (r->flagrh == -1) return -1;
  if (r->flagrh != 1) return 0;
  case_lowerb(r->rh.s, r->rh.len);
  for (i = 0; i < r->rh.len; ++i) if (!r->rh.s[i]) ++r->n;
  if (r->n) {
    if (!size_mul(&bytes, r->n, sizeof *r->sorted)) return -1;
    r->sorted = malloc(bytes);
    if (!r->sorted) { errno = ENOMEM; return -1; }
    k = 0;
    for (i = 0; i < r->rh.len; i += strlen(r->rh.s + i) + 1) r->sorted[k++] = r->rh.s + i;
    qsort(r->sorted, r->n, sizeof *r->sorted, cmp);
  }
  r->fdmrh = open_read("control/morercpthosts.cdb");
  if (r->fdmrh == -1) {
    if (errno == ENOENT) return 0;
    e = errno;
    rcpthosts_free(r);
    errno = e;
    return -1;
  }
  cdb_init(&r->mrh, r->fdmrh);
  return 0;
}

/* listed - is the NUL-terminated lower-case name s in rcpthosts? */
static int listed(const rcpthosts *r, const char *s)
{
  size_t lo = 0, hi = r->n, mid;
  int c;
  while (lo < hi) {
    mid = lo + (hi - lo) / 2;
    c = strcmp(s, r->sorted[mid]);
    if (!c) return 1;
    if (c < 0) hi = mid; else lo = mid + 1;
  }
  return 0;
}

int rcpthosts_check(rcpthosts *r, const char *addr, size_t len)
{
  size_t at, j, hlen;
  const char *h;
  int found;

  at = byte_rchr(addr, len, '@');
  if (at == len) return 1;              /* no @: envnoathost will apply */
  if (r->flagrh != 1) return 0;         /* no list: closed, not an open relay */
  hlen = len - at - 1;
  if (!sa_copyb(&r->host, addr + at + 1, hlen) || !sa_0(&r->host)) return -1;
  h = r->host.s;
  case_lowerb(r->host.s, hlen);
  /* a NUL inside the name would let a prefix match: never allow it */
  if (strlen(h) != hlen) return 0;
  for (j = 0; j < hlen; ++j)
    if (!j || h[j] == '.')
      if (listed(r, h + j)) return 1;
  if (r->fdmrh == -1) return 0;
  for (j = 0; j < hlen; ++j)
    if (!j || h[j] == '.') {
      found = cdb_find(&r->mrh, h + j, hlen - j);
      if (found) return found;          /* 1, or -1 on a read error */
    }
  return 0;
}

void rcpthosts_free(rcpthosts *r)
{
  if (r->fdmrh != -1) { cdb_free(&r->mrh); close(r->fdmrh); }
  r->fdmrh = -1;
  free(r->sorted);
  r->sorted = 0;
  sa_free(&r->rh);
  sa_free(&r->host);
  r->n = 0;
  r->flagrh = 0;
}
