#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "bio.h"

static int pipe_with(const char *s, size_t n)
{
  int p[2];
  if (pipe(p) == -1) return -1;
  if (write(p[1], s, n) != (ssize_t)n) return -1;
  close(p[1]);
  return p[0];
}

TEST(bio_getln_lines_and_eof)
{
  char buf[4];  /* tiny buffer: lines cross refills */
  sa line = SA_ZERO;
  bio b;
  int fd = pipe_with("first line\nsecond\ntail", 22);

  bio_init(&b, fd, buf, sizeof buf);
  CHECK(bio_getln(&b, &line, '\n', 0) == 1);
  CHECK(line.len == 11 && memcmp(line.s, "first line\n", 11) == 0);
  line.len = 0;
  CHECK(bio_getln(&b, &line, '\n', 0) == 1);
  CHECK(line.len == 7);
  line.len = 0;
  CHECK(bio_getln(&b, &line, '\n', 0) == 0);
  CHECK(line.len == 4 && memcmp(line.s, "tail", 4) == 0);
  line.len = 0;
  CHECK(bio_getln(&b, &line, '\n', 0) == 0 && line.len == 0);
  close(fd);
  sa_free(&line);
}

/* a line past max stops at max bytes and leaves the rest unread */
TEST(bio_getln_limit)
{
  char buf[16];
  sa line = SA_ZERO;
  bio b;
  int fd = pipe_with("0123456789abcdef\nok\n", 20);

  bio_init(&b, fd, buf, sizeof buf);
  CHECK(bio_getln(&b, &line, '\n', 10) == -2);
  CHECK(line.len == 10);
  line.len = 0;
  CHECK(bio_getln(&b, &line, '\n', 10) == 1);
  CHECK(line.len == 7 && memcmp(line.s, "abcdef\n", 7) == 0);
  line.len = 0;
  CHECK(bio_getln(&b, &line, '\n', 10) == 1 && line.len == 3);
  close(fd);
  sa_free(&line);
}

TEST(bio_put_and_flush)
{
  char out[8], got[64];
  bio b;
  int p[2];
  ssize_t r;

  CHECK(pipe(p) == 0);
  bio_init(&b, p[1], out, sizeof out);
  CHECK(bio_puts(&b, "hello, "));
  CHECK(bio_puts(&b, "buffered world"));
  CHECK(bio_putulong(&b, 42));
  CHECK(bio_flush(&b));
  close(p[1]);
  r = read(p[0], got, sizeof got);
  CHECK(r == 23 && memcmp(got, "hello, buffered world42", 23) == 0);
  close(p[0]);
}

/* an empty sa (s == NULL) puts nothing: no memcpy from NULL (make
 * sanitize's UBSan run kills the unit tests if there is one), no flush of
 * a full buffer */
TEST(bio_put_empty_null)
{
  char out[4], got[8];
  sa empty = SA_ZERO;
  bio b;
  int p[2];
  ssize_t r;

  CHECK(pipe(p) == 0);
  bio_init(&b, p[1], out, sizeof out);
  CHECK(bio_put(&b, empty.s, empty.len));
  CHECK(b.len == 0);
  CHECK(bio_put(&b, "abcd", 4));
  CHECK(bio_put(&b, empty.s, empty.len));   /* buffer full: no room, nothing to do */
  CHECK(b.len == 4);
  CHECK(bio_putflush(&b, empty.s, empty.len));
  close(p[1]);
  r = read(p[0], got, sizeof got);
  CHECK(r == 4 && memcmp(got, "abcd", 4) == 0);
  close(p[0]);
}

TEST(bio_read_timeout)
{
  char buf[8], c;
  bio b;
  int p[2];
  CHECK(pipe(p) == 0);
  bio_init(&b, p[0], buf, sizeof buf);
  b.timeout = 1;
  errno = 0;
  CHECK(bio_getc(&b, &c) == -1);
  CHECK(errno == ETIMEDOUT);
  close(p[0]);
  close(p[1]);
}

/* bio_copy is positive when it reached EOF, negative on either failure */
TEST(bio_copy_results)
{
  char ibuf[4], obuf[8], got[32];
  bio in, out;
  int p[2], fd = pipe_with("copied through", 14);

  CHECK(pipe(p) == 0);
  bio_init(&in, fd, ibuf, sizeof ibuf);
  bio_init(&out, p[1], obuf, sizeof obuf);
  CHECK(bio_copy(&out, &in) == 1);
  CHECK(bio_flush(&out) == 1);
  close(p[1]);
  CHECK(read(p[0], got, sizeof got) == 14 && memcmp(got, "copied through", 14) == 0);
  close(p[0]);
  close(fd);
  bio_init(&in, -1, ibuf, sizeof ibuf);
  CHECK(bio_copy(&out, &in) == -1 && errno == EBADF);
}
