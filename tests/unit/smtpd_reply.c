/* qmail-smtpd's reply layer (src/smtpd/qmail-smtpd-reply.c, from its part
 * library; tests/unit/smtpd.c stands in for qmail-smtpd.c): replies
 * written qmail's way go into a pipe and come out as RFC 2034 asks after
 * EHLO, as written after HELO. */
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "qmail-smtpd.h"

static int fds[2];

/* said - what the layer sends for the text written, with esc on or off */
static const char *said(int on, const char *okc, const char *written)
{
  static char buf[4096];
  ssize_t r;
  int devnull = open("/dev/null", O_WRONLY);
  int saved = dup(2);
  dup2(devnull, 2);                     /* the refusal log: not here */
  reply_esc(on);
  reply_okcode(okc);
  out(written);
  reply_flush();
  dup2(saved, 2);
  close(saved);
  close(devnull);
  r = read(fds[0], buf, sizeof buf - 1);
  buf[r > 0 ? r : 0] = 0;
  return buf;
}

TEST(smtpd_reply_codes)
{
  CHECK(pipe(fds) == 0);
  reply_init(fds[1], 10, "192.0.2.1");
  CHECK(!strcmp(said(1, "2.0.0", "553 sorry, no (#5.7.1)\r\n"), "553 5.7.1 sorry, no\r\n"));
  CHECK(!strcmp(said(0, "2.0.0", "553 sorry, no (#5.7.1)\r\n"), "553 sorry, no (#5.7.1)\r\n"));
  CHECK(!strcmp(said(1, "2.1.5", "250 ok\r\n"), "250 2.1.5 ok\r\n"));
  CHECK(!strcmp(said(1, "2.0.0", "451 See it.\r\n"), "451 4.0.0 See it.\r\n"));
  CHECK(!strcmp(said(1, "2.0.0", "354 go ahead\r\n"), "354 go ahead\r\n"));
  /* the class follows the reply: a 4xx with a 5.x.x tag */
  CHECK(!strcmp(said(1, "2.0.0", "451 odd (#5.3.0)\r\n"), "451 4.3.0 odd\r\n"));
  /* pieces written apart make one reply */
  reply_esc(1);
  out("250 ok ");
  out("123 qp 45");
  CHECK(!strcmp(said(1, "2.0.0", "\r\n"), "250 2.0.0 ok 123 qp 45\r\n"));
  /* not a tag: left in the text */
  CHECK(!strcmp(said(1, "2.0.0", "550 see (#5.1)\r\n"), "550 5.0.0 see (#5.1)\r\n"));
  CHECK(!strcmp(said(1, "2.0.0", "550 a (#55.1.1)\r\n"), "550 5.0.0 a (#55.1.1)\r\n"));
  close(fds[0]);
  close(fds[1]);
}

TEST(smtpd_reply_multiline)
{
  CHECK(pipe(fds) == 0);
  reply_init(fds[1], 10, "192.0.2.1");
  /* a code on any line goes on every line; the reply leaves at its end */
  CHECK(!strcmp(said(1, "2.0.0", "535-first line\r\n535-second\r\n535 last (#5.7.8)\r\n"),
                "535-5.7.8 first line\r\n535-5.7.8 second\r\n535 5.7.8 last\r\n"));
  CHECK(!strcmp(said(1, "2.0.0", "530-why (#5.7.0)\r\n530 more\r\n"), "530-5.7.0 why\r\n530 5.7.0 more\r\n"));
  CHECK(!strcmp(said(1, "2.0.0", "250-a\r\n250 b\r\n"), "250-2.0.0 a\r\n250 2.0.0 b\r\n"));
  CHECK(!strcmp(said(0, "2.0.0", "250-a\r\n250 b (#2.1.0)\r\n"), "250-a\r\n250 b (#2.1.0)\r\n"));
  close(fds[0]);
  close(fds[1]);
}
