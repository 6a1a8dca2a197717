#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cdb.h"

uint32_t cdb_hash(const char *key, size_t len)
{
  uint32_t h = 5381;
  size_t i;
  for (i = 0; i < len; ++i) h = ((h << 5) + h) ^ (unsigned char)key[i];
  return h;
}

static uint32_t unpack(const char *s)
{
  const unsigned char *u = (const unsigned char *)s;
  return (uint32_t)u[0] | (uint32_t)u[1] << 8 | (uint32_t)u[2] << 16 | (uint32_t)u[3] << 24;
}

void cdb_init(struct cdb *c, int fd)
{
  struct stat st;
  void *m;

  c->map = 0;
  c->size = 0;
  c->fd = fd;
  cdb_findstart(c);
  if (fstat(fd, &st) == -1 || st.st_size <= 0) return;   /* size 0: corrupt */
  /* offsets are 32 bits: nothing past 4 GiB can be addressed anyway */
  c->size = st.st_size > 0xffffffff ? 0xffffffff : (uint32_t)st.st_size;
  if (st.st_size > 0xffffffff) return;
  m = mmap(0, (size_t)st.st_size, PROT_READ, MAP_SHARED, fd, 0);
  if (m != MAP_FAILED) c->map = m;
}

void cdb_free(struct cdb *c)
{
  if (c->map) munmap(c->map, c->size);
  c->map = 0;
  c->size = 0;
}

void cdb_findstart(struct cdb *c) { c->loop = 0; }

int cdb_read(struct cdb *c, char *buf, size_t len, uint32_t pos)
{
  if (pos > c->size || c->size - pos < len) { errno = EPROTO; return -1; }
  if (c->map) {
    memcpy(buf, c->map + pos, len);
    return 0;
  }
  while (len) {
    ssize_t r = pread(c->fd, buf, len, (off_t)pos);
    if (r == -1) { if (errno == EINTR) continue; return -1; }
    if (r == 0) { errno = EPROTO; return -1; }
    buf += r;
    len -= (size_t)r;
    pos += (uint32_t)r;
  }
  return 0;
}

/* match - 1 if the key stored at pos equals key */
static int match(struct cdb *c, const char *key, size_t len, uint32_t pos)
{
  char buf[64];
  size_t n;

  while (len) {
    n = len < sizeof buf ? len : sizeof buf;
    if (cdb_read(c, buf, n, pos) == -1) return -1;
    if (memcmp(buf, key, n)) return 0;
    pos += (uint32_t)n;
    key += n;
    len -= n;
  }
  return 1;
}

int cdb_findnext(struct cdb *c, const char *key, size_t len)
{
  char buf[8];
  uint32_t pos, u;
  int m;

  if (len > 0xffffffff) return 0;
  if (!c->loop) {
    u = cdb_hash(key, len);
    if (cdb_read(c, buf, 8, (u << 3) & 2047) == -1) return -1;
    c->hslots = unpack(buf + 4);
    if (!c->hslots) return 0;
    c->hpos = unpack(buf);
    /* the table must lie inside the file past the 2048-byte header, so
     * hslots << 3 cannot wrap and the loop below is bounded by the size */
    if (c->hpos < 2048 || c->hpos > c->size || (c->size - c->hpos) / 8 < c->hslots) {
      errno = EPROTO;
      return -1;
    }
    c->khash = u;
    u >>= 8;
    u %= c->hslots;
    u <<= 3;
    c->kpos = c->hpos + u;
  }
  while (c->loop < c->hslots) {
    if (cdb_read(c, buf, 8, c->kpos) == -1) return -1;
    pos = unpack(buf + 4);
    if (!pos) return 0;
    c->loop += 1;
    c->kpos += 8;
    if (c->kpos == c->hpos + (c->hslots << 3)) c->kpos = c->hpos;
    u = unpack(buf);
    if (u == c->khash) {
      if (cdb_read(c, buf, 8, pos) == -1) return -1;
      u = unpack(buf);
      if (u == len) {
        m = match(c, key, len, pos + 8);
        if (m == -1) return -1;
        if (m) {
          c->dlen = unpack(buf + 4);
          c->dpos = pos + 8 + (uint32_t)len;
          if (c->dpos > c->size || c->size - c->dpos < c->dlen) {
            errno = EPROTO;
            return -1;
          }
          return 1;
        }
      }
    }
  }
  return 0;
}

int cdb_find(struct cdb *c, const char *key, size_t len)
{
  cdb_findstart(c);
  return cdb_findnext(c, key, len);
}
