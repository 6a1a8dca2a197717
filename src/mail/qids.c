#include <dirent.h>
#include <errno.h>
#include <stdlib.h>

#include "qfn.h"
#include "qids.h"
#include "sa.h"

int qids_add(qids *l, unsigned long id)
{
  unsigned long *n;
  size_t a, bytes;

  if (l->len == l->a) {
    if (!size_add(&a, l->a, l->a / 2 + 64)) return 0;
    if (!size_mul(&bytes, a, sizeof *l->x)) return 0;
    n = realloc(l->x, bytes);
    if (!n) { errno = ENOMEM; return 0; }
    l->x = n;
    l->a = a;
  }
  l->x[l->len++] = id;
  return 1;
}

static int cmpid(const void *a, const void *b)
{
  unsigned long x = *(const unsigned long *)a, y = *(const unsigned long *)b;
  return x < y ? -1 : x > y;
}

void qids_sort(qids *l)
{
  if (l->len > 1) qsort(l->x, l->len, sizeof *l->x, cmpid);
}

int qids_has(const qids *l, unsigned long id)
{
  return l->len && bsearch(&id, l->x, l->len, sizeof id, cmpid) != 0;
}

int qids_read(qids *l, const char *dir)
{
  DIR *d;
  struct dirent *e;
  unsigned long id;
  int err;

  l->len = 0;
  d = opendir(dir);
  if (!d) return 0;
  for (;;) {
    errno = 0;
    e = readdir(d);
    if (!e) break;
    if (qfn_id(e->d_name, &id) && !qids_add(l, id)) break;
  }
  err = errno;
  closedir(d);
  if (err) { errno = err; return 0; }
  qids_sort(l);
  return 1;
}

void qids_free(qids *l)
{
  free(l->x);
  l->x = 0;
  l->len = l->a = 0;
}
