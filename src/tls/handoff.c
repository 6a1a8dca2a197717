/* The helper's side of the hand-off to the resident engine (handoff.h). */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "handoff.h"
#include "prog.h"
#include "bio.h"
#include "fd.h"
#include "say.h"
#include "unixsock.h"

const char handoff_magic[4] = { 'T', 'L', 'S', '1' };

static void warn(const char *path, const char *what, const char *why)
{
  say(2, tls_prog, ": warning: TLSENGINE ", path, ": ", what, why, "; doing TLS here\n", NULL);
}

void handoff_close(int *fd, int n)
{
  int i;
  for (i = 0; i < n; ++i)
    if (fd[i] != -1) close(fd[i]);
}

/* give - the request and the descriptors, in one message */
static int give(int s, const struct handoff *h, const int *fd, int n)
{
  union { struct cmsghdr h; char buf[CMSG_SPACE(HANDOFF_NFD * sizeof(int))]; } u;
  struct iovec iov = { (void *)h, sizeof *h };
  struct msghdr m;
  struct cmsghdr *c;
  ssize_t r;

  memset(&m, 0, sizeof m);
  memset(&u, 0, sizeof u);
  m.msg_iov = &iov;
  m.msg_iovlen = 1;
  m.msg_control = u.buf;
  m.msg_controllen = CMSG_SPACE((size_t)n * sizeof(int));
  c = CMSG_FIRSTHDR(&m);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_RIGHTS;
  c->cmsg_len = CMSG_LEN((size_t)n * sizeof(int));
  memcpy(CMSG_DATA(c), fd, (size_t)n * sizeof(int));
  do r = sendmsg(s, &m, MSG_NOSIGNAL); while (r == -1 && errno == EINTR);
  return r == (ssize_t)sizeof *h;
}

void handoff(const char *path, int immed, unsigned hsecs, unsigned idle, char **prog)
{
  struct handoff h;
  int s, ctl[2] = { -1, -1 }, fd[HANDOFF_NFD], n = immed ? HANDOFF_NFD - 1 : HANDOFF_NFD;
  const char *step;
  char c, env[512];
  size_t got = 0;
  ssize_t r;

  s = unixsock_connect(path, &step);
  if (s == -1) { warn(path, "unable to connect: ", say_errno()); return; }
  if (!immed && socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, ctl) == -1) die_sys("make a socket pair");
  pipes();
  fd[0] = 0; fd[1] = 1; fd[2] = 2; fd[3] = fromprog[0]; fd[4] = toprog[1]; fd[5] = ctl[1];
  memcpy(h.magic, handoff_magic, sizeof handoff_magic);
  h.immed = (unsigned)immed; h.hsecs = hsecs; h.idle = idle;
  if (!give(s, &h, fd, n)) { warn(path, "unable to hand over the connection: ", say_errno()); goto undo; }
  r = bio_rawread(s, &c, 1, HANDOFF_TAKE);
  if (r != 1 || c != 'k') { warn(path, "the engine did not take the connection", ""); goto undo; }
  c = 'g';                              /* no SIGPIPE when the engine has gone */
  if (send(s, &c, 1, MSG_NOSIGNAL) != 1) { warn(path, "the engine went away", ""); goto undo; }

  /* the connection is the worker's now */
  close(toprog[1]); close(fromprog[0]);
  if (!immed) {
    close(s); close(ctl[1]);
    offer(ctl[0]);
    runprog(prog);                      /* on the network, as delayed() */
  }
  for (;;) {                            /* the handshake's result, then EOF */
    r = bio_rawread(s, env + got, sizeof env - 1 - got, hsecs + HANDOFF_TAKE);
    if (r <= 0 || (got += (size_t)r) == sizeof env - 1) break;
  }
  close(s);
  if (!export_env(env, got)) _exit(111);   /* no handshake: the worker said why */
  if (fd_copy(0, toprog[0]) == -1 || fd_copy(1, fromprog[1]) == -1) die_sys("move descriptors");
  runprog(prog);

undo:
  close(s);
  handoff_close(ctl, 2);
  handoff_close(toprog, 2);
  handoff_close(fromprog, 2);
}
