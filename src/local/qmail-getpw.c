/* qmail-getpw - find the account that controls a local address, from the
 * system's password database (qmail-getpw(8)). qmail-lspawn runs it, as
 * qmailp, when users/cdb has no entry. Prints user, uid, gid, home, dash
 * and ext, each ending in NUL. Exit 0; 100 usage; 111 temporary failure,
 * with nothing on stdout.
 * With -s it serves many lookups instead of one: qmail-lspawn keeps it
 * running, so a delivery costs no exec of qmail-getpw. fd 0 is a
 * SOCK_SEQPACKET socket; each request is one packet holding a local part
 * and one descriptor (SCM_RIGHTS); the answer goes to that descriptor,
 * which is then closed. On any trouble the answer is nothing at all, and
 * the asker runs the one-shot mode, which explains the failure. */
#include <errno.h>
#include <pwd.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bio.h"
#include "err.h"
#include "sa.h"
#include "say.h"
#include "sig.h"
#include "str.h"

#include "auto.h"

#define FATAL "qmail-getpw: fatal: "
/* account names are assumed shorter than this, as qmail does */
#define USERLEN 32
/* the longest local part a request may hold; qmail-lspawn takes 4000 */
#define LOCALMAX 4096

/* a temporary failure: why, whyname, whytail and, when whyerrno, errno */
static const char *why, *whyname, *whytail;
static int whyerrno;

static void fail(const char *w, const char *name, const char *tail, int witherrno)
{
  why = w;
  whyname = name;
  whytail = tail;
  whyerrno = witherrno;
}

/* lookup - getpwnam; 0 with why set on a real error, which is temporary */
static struct passwd *lookup(const char *name)
{
  struct passwd *pw;

  errno = 0;
  pw = getpwnam(name);
  if (pw) return pw;
  switch (errno) {
    case 0: case ENOENT: case ESRCH: case EBADF: case EPERM: return 0;
  }
  fail("unable to read the password entry of ", name, "", 1);
  return 0;
}

static int hasupper(const char *s)
{
  for (; *s; ++s) if (*s >= 'A' && *s <= 'Z') return 1;
  return 0;
}

/* isuser - name is an account that may receive mail: nonzero uid, no
 * uppercase in its name, and a home directory that exists and it owns.
 * 0 with why set on a temporary failure. */
static struct passwd *isuser(const char *name)
{
  struct passwd *pw;
  struct stat st;

  pw = lookup(name);
  if (!pw || !pw->pw_uid || hasupper(pw->pw_name)) return 0;
  if (stat(pw->pw_dir, &st) == -1) {
    /* a home that is missing or hidden from us means "not a user" */
    if (err_temp(errno) && errno != EACCES && errno != EPERM)
      fail("unable to stat home directory of ", name, "", 1);
    return 0;
  }
  if (st.st_uid != pw->pw_uid) return 0;
  return pw;
}

/* answer - the six fields for local[0..len) (no NUL inside) into out;
 * 1 done, 0 a temporary failure with why (and errno) set */
static int answer(sa *out, const char *local, size_t len)
{
  static char name[USERLEN];   /* static: whyname may point here */
  struct passwd *pw = 0;
  const char *dash = "-", *ext;
  size_t n;

  why = 0;
  out->len = 0;
  /* the longest candidate first: all of local, then each part before a break */
  for (n = len + 1; n-- > 0;) {
    if (n < len && local[n] != auto_break[0]) continue;
    if (!n || n >= sizeof name) continue;
    memcpy(name, local, n);
    name[n] = 0;
    case_lowerb(name, n);
    pw = isuser(name);
    if (why) return 0;
    if (pw) break;
  }
  if (pw && n < len) { ext = local + n + 1; n = len - n - 1; }
  else if (pw) { ext = local + len; n = 0; dash = ""; }
  else {
    pw = lookup(auto_usera);
    if (!pw) {
      if (!why) fail("unable to find the ", auto_usera, " user", 0);
      return 0;
    }
    ext = local;
    n = len;
  }
  if (!sa_cats(out, pw->pw_name) || !sa_0(out)
      || !sa_catulong(out, (unsigned long)pw->pw_uid) || !sa_0(out)
      || !sa_catulong(out, (unsigned long)pw->pw_gid) || !sa_0(out)
      || !sa_cats(out, pw->pw_dir) || !sa_0(out)
      || !sa_cats(out, dash) || !sa_0(out)
      || !sa_catb(out, ext, n) || !sa_0(out)) {
    fail("out of memory", "", "", 0);
    return 0;
  }
  return 1;
}

/* serve - answer requests on fd 0 until every asker is gone */
static int serve(void)
{
  char local[LOCALMAX + 1];
  union { struct cmsghdr h; char buf[CMSG_SPACE(sizeof(int))]; } ctl;
  sa out = SA_ZERO;

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
      die(111, FATAL, "unable to read request: ", say_errno(), "\n", (char *)0);
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
      if (answer(&out, local, len)) bio_writeall(fd, out.s, out.len, 0);
    }
    close(fd);
    if (out.a > 65536) sa_free(&out);
  }
}

int main(int argc, char **argv)
{
  sa out = SA_ZERO;
  const char *local;

  if (argc == 2 && !strcmp(argv[1], "-s")) return serve();
  /* -- lets a local part start with a dash */
  if (argc >= 2 && !strcmp(argv[1], "--")) ++argv, --argc;
  if (argc < 2) die(100, "usage: qmail-getpw [--] local, or qmail-getpw -s\n", (char *)0);
  local = argv[1];
  if (!answer(&out, local, strlen(local))) {
    if (whyerrno) die(111, FATAL, why, whyname, whytail, ": ", say_errno(), "\n", (char *)0);
    die(111, FATAL, why, whyname, whytail, "\n", (char *)0);
  }
  /* six fields, each ending in NUL, written at once or not at all */
  if (!bio_writeall(1, out.s, out.len, 0))
    die(111, FATAL, "unable to write output: ", say_errno(), "\n", (char *)0);
  sa_free(&out);
  return 0;
}
