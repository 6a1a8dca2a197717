#include <errno.h>
#include <poll.h>
#include <string.h>
#include <unistd.h>

#include "bio.h"
#include "fmt.h"

void bio_init(bio *b, int fd, char *buf, size_t size)
{
  b->buf = buf;
  b->size = size;
  b->pos = 0;
  b->len = 0;
  b->fd = fd;
  b->timeout = 0;
}

/* waitfor - wait until fd is ready; 1, or 0 with errno (ETIMEDOUT) */
static int waitfor(int fd, short events, unsigned timeout)
{
  struct pollfd p;
  int r;

  if (!timeout) return 1;
  p.fd = fd;
  p.events = events;
  p.revents = 0;
  do r = poll(&p, 1, (int)(timeout > 2000000 ? 2000000000 : timeout * 1000));
  while (r == -1 && errno == EINTR);
  if (r == -1) return 0;
  if (r == 0) { errno = ETIMEDOUT; return 0; }
  return 1;
}

ssize_t bio_rawread(int fd, char *s, size_t n, unsigned timeout)
{
  ssize_t r;
  for (;;) {
    if (!waitfor(fd, POLLIN, timeout)) return -1;
    r = read(fd, s, n);
    if (r != -1 || errno != EINTR) return r;
  }
}

ssize_t bio_rawwrite(int fd, const char *s, size_t n, unsigned timeout)
{
  ssize_t r;
  for (;;) {
    if (!waitfor(fd, POLLOUT, timeout)) return -1;
    r = write(fd, s, n);
    if (r != -1 || errno != EINTR) return r;
  }
}

int bio_writeall(int fd, const char *s, size_t n, unsigned timeout)
{
  ssize_t w;
  while (n) {
    w = bio_rawwrite(fd, s, n, timeout);
    if (w <= 0) { if (w == 0) errno = EIO; return 0; }
    s += w;
    n -= (size_t)w;
  }
  return 1;
}

int bio_flush(bio *b)
{
  size_t n = b->len;
  b->len = 0;
  return n ? bio_writeall(b->fd, b->buf, n, b->timeout) : 1;
}

int bio_put(bio *b, const char *s, size_t n)
{
  size_t room = b->size - b->len;

  if (!n) return 1;   /* s may be NULL then (an empty sa): memcpy must not see it */
  if (n <= room) {
    memcpy(b->buf + b->len, s, n);
    b->len += n;
    return 1;
  }
  memcpy(b->buf + b->len, s, room);
  b->len += room;
  s += room;
  n -= room;
  if (!bio_flush(b)) return 0;
  if (n >= b->size) return bio_writeall(b->fd, s, n, b->timeout);
  memcpy(b->buf, s, n);
  b->len = n;
  return 1;
}

int bio_puts(bio *b, const char *s) { return bio_put(b, s, strlen(s)); }

int bio_putflush(bio *b, const char *s, size_t n)
{
  return bio_put(b, s, n) && bio_flush(b);
}

int bio_putsflush(bio *b, const char *s) { return bio_putflush(b, s, strlen(s)); }

int bio_putulong(bio *b, unsigned long u)
{
  char num[FMT_ULONG];
  return bio_put(b, num, fmt_ulong(num, u));
}

ssize_t bio_feed(bio *b)
{
  ssize_t r;

  if (b->pos < b->len) return (ssize_t)(b->len - b->pos);
  b->pos = b->len = 0;
  r = bio_rawread(b->fd, b->buf, b->size, b->timeout);
  if (r <= 0) return r;
  b->len = (size_t)r;
  return r;
}

int bio_getc(bio *b, char *c)
{
  ssize_t r = bio_feed(b);
  if (r <= 0) return (int)r;
  *c = b->buf[b->pos++];
  return 1;
}

int bio_getln(bio *b, sa *line, char sep, size_t max)
{
  ssize_t r;
  size_t n, have;
  char *p, *e;

  if (!line->s) line->len = 0;
  for (;;) {
    r = bio_feed(b);
    if (r < 0) return -1;
    if (r == 0) return 0;
    p = b->buf + b->pos;
    n = (size_t)r;
    e = memchr(p, sep, n);
    if (e) n = (size_t)(e - p) + 1;
    if (max) {
      have = line->len;
      if (have >= max) return -2;
      if (n > max - have) { n = max - have; e = 0; }
    }
    if (!sa_catb(line, p, n)) return -1;
    b->pos += n;
    if (e) return 1;
    if (max && line->len >= max) return -2;
  }
}

int bio_copy(bio *out, bio *in)
{
  ssize_t r;
  for (;;) {
    r = bio_feed(in);
    if (r < 0) return -1;
    if (r == 0) return 1;
    if (!bio_put(out, bio_peek(in), (size_t)r)) return -2;
    bio_skip(in, (size_t)r);
  }
}
