/* bio - buffered I/O on a file descriptor with caller-owned storage.
 * One bio is either for reading or for writing. The only place that calls
 * read() or write() retries EINTR; with a timeout set (seconds, 0 = none)
 * each read or write first waits in poll() and fails with ETIMEDOUT.
 * Success is always a positive return, and errno is set on failure: the
 * writing functions are success-booleans (1, or 0 on failure); the reading
 * functions give 1 or a count, 0 at EOF, and a negative value on failure
 * (-1, or -2 where said), like read(2), which bio_rawread is. */
#ifndef BIO_H
#define BIO_H

#include <stddef.h>
#include <sys/types.h>

#include "sa.h"

typedef struct bio {
  char *buf;
  size_t size;
  size_t pos;      /* reading: next unread byte; writing: unused */
  size_t len;      /* reading: end of data; writing: bytes waiting */
  int fd;
  unsigned timeout;
} bio;

#define BIO_SIZE 8192
#define BIO_INIT(fd, buf, size) { (buf), (size), 0, 0, (fd), 0 }

void bio_init(bio *b, int fd, char *buf, size_t size);

/* raw I/O with EINTR retry and the optional timeout */
ssize_t bio_rawread(int fd, char *s, size_t n, unsigned timeout);
ssize_t bio_rawwrite(int fd, const char *s, size_t n, unsigned timeout);
int bio_writeall(int fd, const char *s, size_t n, unsigned timeout);

/* writing */
int bio_put(bio *b, const char *s, size_t n);
int bio_puts(bio *b, const char *s);
int bio_flush(bio *b);
int bio_putflush(bio *b, const char *s, size_t n);
int bio_putsflush(bio *b, const char *s);
int bio_putulong(bio *b, unsigned long u);

/* reading */
ssize_t bio_feed(bio *b);                 /* bytes buffered; 0 EOF; -1 error */
int bio_getc(bio *b, char *c);            /* 1 byte, 0 EOF, -1 error */
#define bio_peek(b) ((b)->buf + (b)->pos)
#define bio_avail(b) ((b)->len - (b)->pos)
#define bio_skip(b, n) ((b)->pos += (n))

/* bio_getln - append bytes to line up to and including sep.
 * Returns 1 when sep was read, 0 at EOF (line may hold a partial tail),
 * -1 on a read error, -2 when max bytes were appended without sep (the
 * rest of the line is still unread). max 0 means no limit. */
int bio_getln(bio *b, sa *line, char sep, size_t max);

/* bio_copy - copy everything from in to out (out not flushed); 1 when in
 * reached EOF, -1 on a read error, -2 on a write error */
int bio_copy(bio *out, bio *in);

#endif
