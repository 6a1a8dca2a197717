#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

#include "cdb_make.h"
#include "cdb.h"
#include "grow.h"
#include "sa.h"

static void pack(char *s, uint32_t u)
{
  s[0] = (char)(u & 255);
  s[1] = (char)(u >> 8 & 255);
  s[2] = (char)(u >> 16 & 255);
  s[3] = (char)(u >> 24);
}

/* posplus - advance the file position, refusing to pass 4 GiB */
static int posplus(struct cdb_make *c, size_t n)
{
  if (n > 0xffffffffu - c->pos) { errno = EFBIG; return -1; }
  c->pos += (uint32_t)n;
  return 0;
}

int cdb_make_start(struct cdb_make *c, int fd)
{
  c->e = 0;
  c->n = c->a = 0;
  c->pos = 2048;
  bio_init(&c->b, fd, c->buf, sizeof c->buf);
  if (lseek(fd, 2048, SEEK_SET) == -1) return -1;
  return 0;
}

int cdb_make_add(struct cdb_make *c, const char *key, size_t klen, const char *data, size_t dlen)
{
  char head[8];
  size_t total;

  if (klen > 0xffffffffu || dlen > 0xffffffffu) { errno = EFBIG; return -1; }
  {
    struct cdb_make_entry *t = grow(c->e, &c->a, c->n + 1, sizeof *t);
    if (!t) return -1;
    c->e = t;
  }
  c->e[c->n].hash = cdb_hash(key, klen);
  c->e[c->n].pos = c->pos;
  pack(head, (uint32_t)klen);
  pack(head + 4, (uint32_t)dlen);
  if (!size_add(&total, klen, dlen) || !size_add(&total, total, 8)) { errno = EFBIG; return -1; }
  if (posplus(c, total) == -1) return -1;
  if (!bio_put(&c->b, head, 8) || !bio_put(&c->b, key, klen) || !bio_put(&c->b, data, dlen))
    return -1;
  ++c->n;
  return 0;
}

int cdb_make_finish(struct cdb_make *c)
{
  char header[2048];
  uint32_t count[256], start[256];
  struct cdb_make_entry *split = 0, *table = 0;
  size_t i, j, memsize = 1, len;
  uint32_t u, where;
  char slot[8];
  int ret = -1;

  for (i = 0; i < 256; ++i) count[i] = 0;
  for (i = 0; i < c->n; ++i) ++count[c->e[i].hash & 255];
  for (i = 0; i < 256; ++i) if ((size_t)count[i] * 2 > memsize) memsize = (size_t)count[i] * 2;
  split = calloc(c->n ? c->n : 1, sizeof *split);
  table = calloc(memsize, sizeof *table);
  if (!split || !table) { errno = ENOMEM; goto done; }
  u = 0;
  for (i = 0; i < 256; ++i) { u += count[i]; start[i] = u; }
  for (i = c->n; i-- > 0;) split[--start[c->e[i].hash & 255]] = c->e[i];
  for (i = 0; i < 256; ++i) {
    len = (size_t)count[i] * 2;
    pack(header + i * 8, c->pos);
    pack(header + i * 8 + 4, (uint32_t)len);
    for (j = 0; j < len; ++j) table[j].hash = table[j].pos = 0;
    for (j = 0; j < count[i]; ++j) {
      struct cdb_make_entry *p = &split[start[i] + j];
      where = (uint32_t)((p->hash >> 8) % len);
      while (table[where].pos) if (++where == len) where = 0;
      table[where] = *p;
    }
    for (j = 0; j < len; ++j) {
      pack(slot, table[j].hash);
      pack(slot + 4, table[j].pos);
      if (posplus(c, 8) == -1) goto done;
      if (!bio_put(&c->b, slot, 8)) goto done;
    }
  }
  if (!bio_flush(&c->b)) goto done;
  if (lseek(c->b.fd, 0, SEEK_SET) == -1) goto done;
  if (!bio_writeall(c->b.fd, header, sizeof header, 0)) goto done;
  ret = 0;
done:
  free(split);
  free(table);
  free(c->e);
  c->e = 0;
  c->n = c->a = 0;
  return ret;
}
