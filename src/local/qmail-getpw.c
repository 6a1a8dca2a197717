/* qmail-getpw - find the account that controls a local address, from the
 * system's password database (qmail-getpw(8)). qmail-lspawn runs it, as
 * qmailp, when users/cdb has no entry; the rules are getpw_answer's
 * (src/mail/getpw.c), which qmail-rcptcheck shares. Prints user, uid, gid, home, dash
 * and ext, each ending in NUL. Exit 0; 100 usage; 111 temporary failure,
 * with nothing on stdout.
 * With -s it serves many lookups instead of one: qmail-lspawn keeps it
 * running, so a delivery costs no exec of qmail-getpw. fd 0 is a
 * SOCK_SEQPACKET socket; each request is one packet holding a local part
 * and one descriptor (SCM_RIGHTS); the answer goes to that descriptor,
 * which is then closed. On any trouble the answer is nothing at all, and
 * the asker runs the one-shot mode, which explains the failure. */
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bio.h"
#include "sa.h"
#include "say.h"
#include "sig.h"
#include "str.h"

#include "getpw.h"

#define FATAL "qmail-getpw: fatal: "
/* the longest local part a request may hold; qmail-lspawn takes 4000 */
#define LOCALMAX 4096

/* serve - answer requests on fd 0 until every asker is gone */
static int serve(void)
{
  char local[LOCALMAX + 1];
  union { struct cmsghdr h; char buf[CMSG_SPACE(sizeof(int))]; } ctl;
  sa out = SA_ZERO;
  getpw_why w;

  /* an asker that is gone is no reason to stop */
  sig_ignore(SIGPIPE);
  for (;;) {
    struct msghdr m;
    struct iovec v;
    struct cmsghdr *c;
    ssize_t r;
    int fd = -1;
    size_t len;

    v.iov_base = local;
    v.iov_len = sizeof local;
    memset(&m, 0, sizeof m);
    m.msg_iov = &v;
    m.msg_iovlen = 1;
    m.msg_control = ctl.buf;
    m.msg_controllen = sizeof ctl.buf;
    r = recvmsg(0, &m, MSG_CMSG_CLOEXEC);
    if (r == -1) {
      if (errno == EINTR) continue;
      die(111, FATAL, "unable to read request: ", say_errno(), "\n", NULL);
    }
    if (r == 0 && !m.msg_controllen) return 0;   /* every asker has closed */
    for (c = CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(&m, c))
      if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
        size_t k, nfd = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        for (k = 0; k < nfd; ++k) {
          int x;
          memcpy(&x, CMSG_DATA(c) + k * sizeof(int), sizeof x);
          if (fd == -1) fd = x;
          else close(x);
        }
      }
    if (fd == -1) continue;                       /* nowhere to answer */
    len = (size_t)r;
    if (len && !local[len - 1]) --len;            /* a final NUL is allowed */
    /* cut, or a NUL inside: no answer, and the asker asks the one-shot way */
    if (!(m.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) && byte_chr(local, len, 0) == len) {
      local[len] = 0;
      if (getpw_answer(&out, local, len, &w)) bio_writeall(fd, out.s, out.len, 0);
    }
    close(fd);
    if (out.a > 65536) sa_free(&out);
  }
}

int main(int argc, char **argv)
{
  sa out = SA_ZERO;
  const char *local;
  getpw_why w;

  if (argc == 2 && !strcmp(argv[1], "-s")) return serve();
  /* -- lets a local part start with a dash */
  if (argc >= 2 && !strcmp(argv[1], "--")) ++argv, --argc;
  if (argc < 2) die(100, "usage: qmail-getpw [--] local, or qmail-getpw -s\n", NULL);
  local = argv[1];
  if (!getpw_answer(&out, local, strlen(local), &w)) {
    if (w.err) { errno = w.err; die(111, FATAL, w.why, w.name, w.tail, ": ", say_errno(), "\n", NULL); }
    die(111, FATAL, w.why, w.name, w.tail, "\n", NULL);
  }
  /* six fields, each ending in NUL, written at once or not at all */
  if (!bio_writeall(1, out.s, out.len, 0))
    die(111, FATAL, "unable to write output: ", say_errno(), "\n", NULL);
  sa_free(&out);
  return 0;
}
