/* pop3 - POP3 command lines as qmail-popup and qmail-pop3d read them, by
 * pop3_getcmd (through a bio) and pop3_getcmd_exact (from the fd): the
 * verb is lower case and has no blank, and both lie inside the line. */
#include <string.h>
#include <unistd.h>

#include "fuzz.h"
#include "bio.h"
#include "pop3.h"

static void check(const pop3cmd *c)
{
  const char *v;
  if (c->verb < c->line.s || c->verb > c->line.s + c->line.len) fuzz_fail("verb outside the line");
  if (c->arg < c->line.s || c->arg > c->line.s + c->line.len) fuzz_fail("arg outside the line");
  for (v = c->verb; *v; ++v)
    if ((*v >= 'A' && *v <= 'Z') || *v == ' ') fuzz_fail("verb not lower case or holds a blank");
}

void fuzz_one(const unsigned char *data, size_t len)
{
  static pop3cmd c = POP3CMD_ZERO;
  char buf[128];
  bio b;
  int fd = fuzz_fd(data, len), r, n;

  bio_init(&b, fd, buf, sizeof buf);
  for (n = 0; n < 1000 && (r = pop3_getcmd(&b, &c)) != POP3_EOF && r != POP3_ERR; ++n)
    if (r == POP3_CMD) check(&c);
  close(fd);
  fd = fuzz_fd(data, len);
  for (n = 0; n < 1000 && (r = pop3_getcmd_exact(fd, 5, &c)) != POP3_EOF && r != POP3_ERR; ++n)
    if (r == POP3_CMD) check(&c);
  close(fd);
}
