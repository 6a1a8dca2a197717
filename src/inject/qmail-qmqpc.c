/* qmail-qmqpc - the interface of qmail-queue(8), but the message goes to
 * a QMQP server (cr.yp.to/proto/qmqp.txt) named in control/qmqpservers
 * instead of the local queue. The message (fd 0) is measured first, since
 * QMQP wants its length up front: a regular file is used in place, any
 * other input is spooled to an unlinked temporary file, so memory holds
 * only the envelope (fd 1). Exit codes are qmail-queue's. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdnoreturn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "auto.h"
#include "bio.h"
#include "control.h"
#include "ipaddr.h"
#include "netstring.h"
#include "sig.h"
#include "timeoutconn.h"

#define PORT_QMQP 628
#define ADDRMAX 1000

static noreturn void quit(int code) { _exit(code); }

static int msgfd;
static off_t msgstart;
static size_t msglen;

/* spool - make fd 0 something we can measure and read twice */
static void spool(void)
{
  struct stat st;
  char buf[8192];
  const char *dir = getenv("TMPDIR");
  ssize_t r;
  off_t cur;

  if (fstat(0, &st) == 0 && S_ISREG(st.st_mode) && (cur = lseek(0, 0, SEEK_CUR)) != -1 && cur <= st.st_size) {
    msgfd = 0;
    msgstart = cur;
    msglen = (size_t)(st.st_size - cur);
    return;
  }
  if (!dir || !*dir) dir = "/tmp";
  msgfd = open(dir, O_TMPFILE | O_RDWR, 0600);
  if (msgfd == -1) {
    char tmpl[] = "/tmp/qmail-qmqpc.XXXXXX";
    msgfd = mkstemp(tmpl);
    if (msgfd == -1) quit(53);
    unlink(tmpl);
  }
  msgstart = 0;
  msglen = 0;
  for (;;) {
    r = bio_rawread(0, buf, sizeof buf, 0);
    if (r == -1) quit(54);
    if (r == 0) break;
    if (!bio_writeall(msgfd, buf, (size_t)r, 0)) quit(53);
    if (!size_add(&msglen, msglen, (size_t)r)) quit(53);
  }
}

/* envelope - read fd 1 and encode sender and recipients as netstrings */
static void envelope(sa *after)
{
  char buf[1024];
  bio b = BIO_INIT(1, buf, sizeof buf);
  sa line = SA_ZERO;
  int r, first = 1;

  for (;;) {
    line.len = 0;
    r = bio_getln(&b, &line, 0, ADDRMAX + 1);   /* tag, address, NUL */
    if (r == -1) quit(errno == ENOMEM ? 51 : 54);
    if (r == -2) quit(11);
    if (r == 0) quit(91);                       /* no terminating NUL */
    if (line.len == 1) { if (first) quit(91); break; }
    if (line.s[0] != (first ? 'F' : 'T')) quit(91);
    if (!netstring_cat(after, line.s + 1, line.len - 2)) quit(51);
    first = 0;
  }
  sa_free(&line);
}

static int lasterror = 55;

/* server - try one server; returns only when it could not be reached */
static void server(const char *text, const sa *before, const sa *after)
{
  struct ipaddr ip;
  struct sockaddr_storage ss;
  socklen_t len;
  char obuf[8192], ibuf[1024], buf[8192];
  bio out, in;
  sa head = SA_ZERO, reply = SA_ZERO;
  size_t total, left;
  off_t pos;
  ssize_t r;
  int fd;

  if (!ipaddr_scan(&ip, text, strlen(text))) return;
  len = ipaddr_sockaddr(&ss, &ip, PORT_QMQP);
  fd = socket(ip.af, SOCK_STREAM, 0);
  if (fd == -1) quit(56);
  if (timeoutconn(fd, (struct sockaddr *)&ss, len, 10) == -1) {
    lasterror = errno == ETIMEDOUT ? 72 : 73;
    close(fd);
    return;
  }
  if (!size_add(&total, before->len, msglen) || !size_add(&total, total, after->len)) quit(51);
  if (!netstring_catlen(&head, total) || !sa_cat(&head, before)) quit(51);
  bio_init(&out, fd, obuf, sizeof obuf);
  out.timeout = 60;
  lasterror = 74;
  if (!bio_put(&out, head.s, head.len)) goto fail;
  for (pos = msgstart, left = msglen; left; ) {
    r = pread(msgfd, buf, left < sizeof buf ? left : sizeof buf, pos);
    if (r == -1 && errno == EINTR) continue;
    if (r <= 0) quit(54);
    if (!bio_put(&out, buf, (size_t)r)) goto fail;
    pos += r;
    left -= (size_t)r;
  }
  if (!bio_put(&out, after->s, after->len) || !bio_putflush(&out, ",", 1)) goto fail;
  /* the package is out: from here a lost answer must not mean a resend */
  bio_init(&in, fd, ibuf, sizeof ibuf);
  in.timeout = 60;
  if (netstring_get(&in, 0, 1000, &reply) != 1 || !reply.len) quit(74);
  if (reply.s[0] == 'K') quit(0);
  if (reply.s[0] == 'Z') quit(71);
  if (reply.s[0] == 'D') quit(31);
  quit(74);
fail:
  close(fd);
  sa_free(&head);
}

int main(void)
{
  sa servers = SA_ZERO, before = SA_ZERO, after = SA_ZERO;
  size_t i;

  sig_ignore(SIGPIPE);
  if (chdir(auto_home) == -1) quit(61);
  if (control_readfile(&servers, "control/qmqpservers") != 1) quit(55);
  spool();
  if (!netstring_catlen(&before, msglen)) quit(51);
  if (!sa_copys(&after, ",")) quit(51);
  envelope(&after);
  for (i = 0; i < servers.len; i += strlen(servers.s + i) + 1)
    server(servers.s + i, &before, &after);
  quit(lasterror);
}
