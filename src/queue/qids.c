#include <dirent.h>
#include <errno.h>
#include <stdlib.h>

#include "grow.h"
#include "qfn.h"
#include "qids.h"

int qids_add(qids *l, unsigned long id)
{
  unsigned long *n = grow(l->x, &l->a, l->len + 1, sizeof *n);

  if (!n) return 0;
  l->x = n;
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
