#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>

#include "pop3.h"
#include "str.h"

/* split - c->line holds a whole line ending in LF: make verb and arg */
static int split(pop3cmd *c)
{
  size_t n = c->line.len - 1, sp;          /* without the LF */

  if (n && c->line.s[n - 1] == '\r') --n;
  if (memchr(c->line.s, 0, n)) return POP3_BAD;
  c->line.s[n] = 0;                          /* room: the LF was there */
  sp = byte_chr(c->line.s, n, ' ');
  case_lowerb(c->line.s, sp);
  c->verb = c->line.s;
  if (sp < n) {
    c->line.s[sp] = 0;
    c->arg = c->line.s + sp + 1;
  }
  else
    c->arg = c->line.s + n;                  /* the empty string */
  return POP3_CMD;
}

/* skiprest - throw away input up to and including the next LF */
static int skiprest(bio *in, sa *line)
{
  int r;
  for (;;) {
    line->len = 0;
    r = bio_getln(in, line, '\n', POP3_LINE);
    if (r == 1) return POP3_LONG;
    if (r == 0) return POP3_EOF;
    if (r == -1) return POP3_ERR;
  }
}

int pop3_getcmd(bio *in, pop3cmd *c)
{
  int r;

  c->line.len = 0;
  c->verb = c->arg = 0;
  r = bio_getln(in, &c->line, '\n', POP3_LINE);
  if (r == -2) return skiprest(in, &c->line);
  if (r == -1) return POP3_ERR;
  if (r == 0) return POP3_EOF;
  return split(c);
}

/* readexact - read up to n bytes from fd, but not past the first LF */
static ssize_t readexact(int fd, char *buf, size_t n, unsigned timeout)
{
  struct pollfd p;
  ssize_t r;
  char *e;

  if (timeout) {
    p.fd = fd;
    p.events = POLLIN;
    p.revents = 0;
    do r = poll(&p, 1, (int)(timeout > 2000000 ? 2000000000 : timeout * 1000));
    while (r == -1 && errno == EINTR);
    if (r == -1) return -1;
    if (r == 0) { errno = ETIMEDOUT; return -1; }
  }
  do r = recv(fd, buf, n, MSG_PEEK);
  while (r == -1 && errno == EINTR);
  if (r == -1) {
    if (errno != ENOTSOCK) return -1;
    return bio_rawread(fd, buf, 1, 0);       /* a pipe or file: byte by byte */
  }
  if (r == 0) return 0;
  e = memchr(buf, '\n', (size_t)r);
  if (e) r = e - buf + 1;
  /* these bytes are queued already, so the read takes all of them */
  return bio_rawread(fd, buf, (size_t)r, 0);
}

int pop3_getcmd_exact(int fd, unsigned timeout, pop3cmd *c)
{
  char buf[POP3_LINE];
  ssize_t r;
  int toolong = 0;

  c->line.len = 0;
  c->verb = c->arg = 0;
  for (;;) {
    r = readexact(fd, buf, sizeof buf, timeout);
    if (r == -1) return POP3_ERR;
    if (r == 0) return POP3_EOF;
    if (!toolong) {
      if ((size_t)r > POP3_LINE - c->line.len) toolong = 1;
      else if (!sa_catb(&c->line, buf, (size_t)r)) return POP3_ERR;
    }
    if (buf[r - 1] == '\n') break;
    if (c->line.len >= POP3_LINE) toolong = 1;
  }
  if (toolong) { c->line.len = 0; return POP3_LONG; }
  return split(c);
}
