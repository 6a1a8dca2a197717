#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "harness.h"
#include "pop3.h"
#include "str.h"

static int pipe_with(const char *s, size_t n)
{
  int p[2];
  if (pipe(p) == -1) return -1;
  if (write(p[1], s, n) != (ssize_t)n) return -1;
  close(p[1]);
  return p[0];
}

TEST(pop3_getcmd_split)
{
  char buf[16];
  pop3cmd c = POP3CMD_ZERO;
  bio b;
  static const char in[] = "USER Bob\r\nPaSS two  words \r\nnoop\nQUIT";
  int fd = pipe_with(in, sizeof in - 1);

  bio_init(&b, fd, buf, sizeof buf);
  CHECK(pop3_getcmd(&b, &c) == POP3_CMD);
  CHECK(str_equal(c.verb, "user") && str_equal(c.arg, "Bob"));
  CHECK(pop3_getcmd(&b, &c) == POP3_CMD);
  CHECK(str_equal(c.verb, "pass") && str_equal(c.arg, "two  words "));
  CHECK(pop3_getcmd(&b, &c) == POP3_CMD);
  CHECK(str_equal(c.verb, "noop") && str_equal(c.arg, ""));
  CHECK(pop3_getcmd(&b, &c) == POP3_EOF);    /* no LF: dropped */
  close(fd);
  sa_free(&c.line);
}

TEST(pop3_getcmd_long_and_nul)
{
  static char in[3 * POP3_LINE];
  char buf[64];
  pop3cmd c = POP3CMD_ZERO;
  bio b;
  size_t n;
  int fd;

  memset(in, 'x', 2 * POP3_LINE);
  n = 2 * POP3_LINE;
  memcpy(in + n, "\nPASS a\0b\r\nSTAT\r\n", 17);
  n += 17;
  fd = pipe_with(in, n);
  bio_init(&b, fd, buf, sizeof buf);
  CHECK(pop3_getcmd(&b, &c) == POP3_LONG);
  CHECK(c.line.a < 2 * POP3_LINE);     /* memory stays near the limit */
  CHECK(pop3_getcmd(&b, &c) == POP3_BAD);
  CHECK(pop3_getcmd(&b, &c) == POP3_CMD && str_equal(c.verb, "stat"));
  close(fd);
  sa_free(&c.line);
}

/* exactly at the limit is fine, one more byte is too long */
TEST(pop3_getcmd_limit_edge)
{
  static char in[2 * POP3_LINE + 2];
  char buf[64];
  pop3cmd c = POP3CMD_ZERO;
  bio b;
  int fd;

  memset(in, 'a', sizeof in);
  in[POP3_LINE - 1] = '\n';
  in[2 * POP3_LINE + 1] = '\n';
  fd = pipe_with(in, sizeof in);
  bio_init(&b, fd, buf, sizeof buf);
  CHECK(pop3_getcmd(&b, &c) == POP3_CMD && strlen(c.verb) == POP3_LINE - 1);
  CHECK(pop3_getcmd(&b, &c) == POP3_LONG);
  CHECK(pop3_getcmd(&b, &c) == POP3_EOF);
  close(fd);
  sa_free(&c.line);
}

/* the exact reader leaves what follows the line in the socket */
TEST(pop3_getcmd_exact_leaves_the_rest)
{
  static char big[3000];
  pop3cmd c = POP3CMD_ZERO;
  char rest[16];
  int sv[2];

  CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
  CHECK(write(sv[1], "PASS x y\r\nSTAT\r\n", 16) == 16);
  CHECK(pop3_getcmd_exact(sv[0], 5, &c) == POP3_CMD);
  CHECK(str_equal(c.verb, "pass") && str_equal(c.arg, "x y"));
  CHECK(read(sv[0], rest, sizeof rest) == 6 && memcmp(rest, "STAT\r\n", 6) == 0);
  memset(big, 'z', sizeof big);
  big[sizeof big - 1] = '\n';
  CHECK(write(sv[1], big, sizeof big) == (ssize_t)sizeof big);
  CHECK(write(sv[1], "NOOP\n", 5) == 5);
  CHECK(pop3_getcmd_exact(sv[0], 5, &c) == POP3_LONG);
  CHECK(pop3_getcmd_exact(sv[0], 5, &c) == POP3_CMD && str_equal(c.verb, "noop"));
  close(sv[1]);
  CHECK(pop3_getcmd_exact(sv[0], 5, &c) == POP3_EOF);
  close(sv[0]);
  /* a pipe is read byte by byte, with the same result */
  sv[0] = pipe_with("USER a\r\nQUIT\r\n", 14);
  CHECK(pop3_getcmd_exact(sv[0], 0, &c) == POP3_CMD && str_equal(c.arg, "a"));
  CHECK(read(sv[0], rest, sizeof rest) == 6);
  close(sv[0]);
  sa_free(&c.line);
}
