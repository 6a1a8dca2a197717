/* remote - qmail-remote's SMTP client (src/remote/qmail-remote-smtp.c,
 * linked as it is) against a peer whose replies are the input: greeting,
 * EHLO, MAIL, two RCPTs, DATA and the final reply come from one socket
 * filled in advance. This file stands in for qmail-remote.c: the reports
 * go nowhere, but each must be one letter from qmail-remote(8)'s set. The
 * client ends the process (zerodie), so the driver runs it in a child. */
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fuzz.h"
#include "qmail-remote.h"

static int start = 1;

void out(const char *s) { outb(s, strlen(s)); }

void outb(const char *s, size_t n)
{
  if (start && n) {
    if (!strchr("rhsKZD", s[0])) fuzz_fail("report starts with an unknown letter");
    start = 0;
  }
}

void zero(void) { start = 1; }
noreturn void zerodie(void) { zero(); _exit(0); }
noreturn void temp_nomem(void) { _exit(0); }
noreturn void temp_read(void) { _exit(0); }

void fuzz_one(const unsigned char *data, size_t len)
{
  static const char msg[] = "Subject: fuzz\n\n.line\nend";
  static sa helo = SA_ZERO, sender = SA_ZERO;
  static struct rcpt rc[2] = { { 0, SA_ZERO }, { 0, SA_ZERO } };
  struct smtpjob j;
  int s[2], m[2];
  size_t done = 0;

  if (len > 60000) return;   /* the peer's replies must fit in the socket buffer */
  if (socketpair(AF_UNIX, SOCK_STREAM, 0, s) == -1 || pipe(m) == -1) fuzz_fail("socketpair");
  while (done < len) {
    ssize_t w = write(s[1], data + done, len - done);
    if (w <= 0) fuzz_fail("write to socket");
    done += (size_t)w;
  }
  shutdown(s[1], SHUT_WR);
  if (write(m[1], msg, sizeof msg - 1) != sizeof msg - 1) fuzz_fail("write message");
  close(m[1]);
  if (dup2(m[0], 0) == -1) fuzz_fail("dup2");
  if (!sa_copys(&helo, "fuzz.example") || !sa_copys(&sender, "a@fuzz.example") ||
      !sa_copys(&rc[0].addr, "b@fuzz.example") || !sa_copys(&rc[1].addr, "c@fuzz.example"))
    fuzz_fail("out of memory");
  memset(&j, 0, sizeof j);
  j.partner.af = AF_INET;
  j.fd = s[0];
  j.helohost = &helo;
  j.sender = &sender;
  j.rcpt = rc;
  j.nrcpt = 2;
  j.timeout = 2;
  smtp(&j);
}
