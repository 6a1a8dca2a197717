/* The resident engine of ucspi-tlsd (-d socket).
 *
 * A helper started for each connection loads libssl and libcrypto, makes
 * its context and reads the certificate and the key before the first
 * byte of the handshake, which costs more CPU than the handshake (on the
 * bench machine, bench/README.md). The engine does that once. It stays
 * (as root when started so, to read the key again when it changes),
 * listens on a UNIX socket, and forks a worker for each connection that
 * ucspi-tlsd-front hands it (handoff.h); the worker becomes the engine's
 * account and runs the helper's own code on the descriptors it was
 * given. The engine's own process touches no byte from the network. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>
#include <openssl/ssl.h>

#include "ucspi-tlsd.h"
#include "handoff.h"
#include "prog.h"
#include "bio.h"
#include "fd.h"
#include "say.h"
#include "sig.h"
#include "unixsock.h"
#include "waitchild.h"

/* what a file was when its context was made; a change is a new one */
struct ident { int ok; dev_t dev; ino_t ino; off_t size; struct timespec mtime, ctime; };

static void identify(const char *var, struct ident *id)
{
  const char *fn = getenv(var);
  struct stat st;
  memset(id, 0, sizeof *id);
  if (!fn || stat(fn, &st) == -1) return;
  id->ok = 1; id->dev = st.st_dev; id->ino = st.st_ino; id->size = st.st_size;
  id->mtime = st.st_mtim; id->ctime = st.st_ctim;
}

static int same(const struct ident *a, const struct ident *b)
{
  return a->ok == b->ok && a->dev == b->dev && a->ino == b->ino && a->size == b->size
         && a->mtime.tv_sec == b->mtime.tv_sec && a->mtime.tv_nsec == b->mtime.tv_nsec
         && a->ctime.tv_sec == b->ctime.tv_sec && a->ctime.tv_nsec == b->ctime.tv_nsec;
}

static struct ident certid, keyid;

/* fresh - the context for the next connection: made again when CERTFILE
 * or KEYFILE changed since, and kept when the new one cannot be made (a
 * certificate half renewed), until the files change again */
static SSL_CTX *fresh(SSL_CTX *ctx)
{
  struct ident c, k;
  SSL_CTX *n;
  identify("CERTFILE", &c);
  identify("KEYFILE", &k);
  if (same(&c, &certid) && same(&k, &keyid)) return ctx;
  certid = c; keyid = k;
  n = server_ctx_again();
  if (!n) return ctx;
  SSL_CTX_free(ctx);
  return n;
}

/* take - one request from c: 1 with the descriptors in fd, 0 (nothing
 * kept open) for anything but the shape the helper sends */
static int take(int c, struct handoff *h, int *fd)
{
  union { struct cmsghdr h; char buf[CMSG_SPACE(HANDOFF_NFD * sizeof(int))]; } u;
  struct iovec iov = { h, sizeof *h };
  struct msghdr m;
  struct cmsghdr *cm;
  int i, n = 0, want;
  ssize_t r;

  memset(&m, 0, sizeof m);
  m.msg_iov = &iov;
  m.msg_iovlen = 1;
  m.msg_control = u.buf;
  m.msg_controllen = sizeof u.buf;
  do r = recvmsg(c, &m, MSG_CMSG_CLOEXEC); while (r == -1 && errno == EINTR);
  for (i = 0; i < HANDOFF_NFD; ++i) fd[i] = -1;
  if (r == -1) return 0;
  for (cm = CMSG_FIRSTHDR(&m); cm; cm = CMSG_NXTHDR(&m, cm))
    if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS) {
      size_t k = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int), j;
      for (j = 0; j < k; ++j) {
        int d;
        memcpy(&d, CMSG_DATA(cm) + j * sizeof(int), sizeof d);
        if (n < HANDOFF_NFD) fd[n] = d;
        else close(d);                  /* one too many: refused below */
        ++n;
      }
    }
  want = h->immed ? HANDOFF_NFD - 1 : HANDOFF_NFD;
  if (n > HANDOFF_NFD) n = HANDOFF_NFD + 1;
  if (r != (ssize_t)sizeof *h || (m.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) || n != want
      || memcmp(h->magic, handoff_magic, sizeof handoff_magic) || h->immed > 1
      || !h->hsecs || h->hsecs > 86400 || !h->idle || h->idle > 86400) {
    handoff_close(fd, n > HANDOFF_NFD ? HANDOFF_NFD : n);
    return 0;
  }
  return 1;
}

/* worker - the connection on fd, as the helper would have served it */
static noreturn void worker(int c, const struct handoff *h, int *fd, SSL_CTX *ctx)
{
  char k = 'k', g = 0, env[512];
  size_t n;
  SSL *ssl;

  sig_default(SIGCHLD);
  if (fd_move(0, fd[0]) == -1 || fd_move(1, fd[1]) == -1 || fd_move(2, fd[2]) == -1) _exit(111);
  hsecs = h->hsecs;
  idle = h->idle;
  fromprog[0] = fd[3];
  toprog[1] = fd[4];
  drop_engine();
  if (bio_writeall(c, &k, 1, HANDOFF_TALK) != 1 || bio_rawread(c, &g, 1, HANDOFF_TALK) != 1 || g != 'g') _exit(0);
  if (!h->immed) { close(c); _exit(command(ctx, fd[5])); }
  ssl = accept_tls(ctx);
  n = tls_env(ssl, env, sizeof env);
  if (bio_writeall(c, env, n, HANDOFF_TALK) != 1) _exit(111);
  close(c);
  _exit(tls_pump(ssl, 0, 1, fromprog[0], toprog[1], idle));
}

static void nothing(int sig) { (void)sig; }

/* stdfds - descriptors 0, 1 and 2 open, so that nothing accepted or
 * received lands on them */
static void stdfds(void)
{
  int fd;
  do fd = open("/dev/null", O_RDWR | O_CLOEXEC); while (fd != -1 && fd < 3);
  if (fd == -1) die_sys("open /dev/null");
  close(fd);
}

noreturn void engine_serve(const char *path)
{
  SSL_CTX *ctx;
  struct handoff h;
  struct timeval tv = { HANDOFF_TALK, 0 };
  const char *step;
  int s, c, fd[HANDOFF_NFD];
  pid_t pid;

  stdfds();
  identify("CERTFILE", &certid);
  identify("KEYFILE", &keyid);
  ctx = server_ctx();
  plan_ids();
  s = unixsock_listen(path, engine_ids ? engine_uid : (uid_t)-1, engine_ids ? engine_gid : (gid_t)-1,
                      0600, 256, &step);
  if (s == -1) die(111, "ucspi-tlsd: fatal: unable to ", step, " ", path, ": ", say_errno(), "\n", NULL);
  sig_catch(SIGCHLD, nothing);          /* accept returns EINTR when a worker ends */
  for (;;) {
    int status;
    /* reaped here, not by the kernel: their CPU time is then counted in
     * ours (the bench, process accounting) */
    while (wait_nohang(&status) > 0) {}
    c = accept4(s, 0, 0, SOCK_CLOEXEC);
    if (c == -1) {
      if (errno != EINTR && errno != ECONNABORTED) { say(2, "ucspi-tlsd: warning: accept: ", say_errno(), "\n", NULL); sleep(1); }
      continue;
    }
    if (!unixsock_peerok(c, engine_ids ? engine_uid : geteuid())) {
      say(2, "ucspi-tlsd: warning: refused a hand-off from another account\n", NULL);
      close(c);
      continue;
    }
    setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    if (take(c, &h, fd)) {
      ctx = fresh(ctx);
      pid = fork();
      if (pid == 0) { close(s); worker(c, &h, fd, ctx); }
      if (pid == -1) say(2, "ucspi-tlsd: warning: unable to fork: ", say_errno(), "\n", NULL);
      handoff_close(fd, h.immed ? HANDOFF_NFD - 1 : HANDOFF_NFD);
    }
    close(c);
  }
}
