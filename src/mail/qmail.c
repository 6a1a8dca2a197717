#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "qmail.h"
#include "auto.h"
#include "fd.h"
#include "waitchild.h"

int qmail_open(qmail *q)
{
  int pm[2], pe[2], pc[2];
  const char *prog;
  char path[4096];

  q->flagerr = 0;
  q->custom.s = 0; q->custom.len = 0; q->custom.a = 0;
  if (pipe(pm) == -1) return -1;
  if (pipe(pe) == -1) { close(pm[0]); close(pm[1]); return -1; }
  if (pipe(pc) == -1) {
    close(pm[0]); close(pm[1]); close(pe[0]); close(pe[1]);
    return -1;
  }
  prog = getenv("QMAILQUEUE");
  if (!prog || !*prog) {
    size_t n = strlen(auto_home);
    if (n + sizeof "/bin/qmail-queue" > sizeof path) { errno = ENAMETOOLONG; prog = 0; }
    else {
      memcpy(path, auto_home, n);
      memcpy(path + n, "/bin/qmail-queue", sizeof "/bin/qmail-queue");
      prog = path;
    }
  }
  /* vfork: the parent's memory is not copied. The child only moves fds,
   * resets SIGPIPE and execs (or _exits), touching nothing of ours. */
  q->pid = prog ? vfork() : -1;
  if (q->pid == -1) {
    int e = errno;
    close(pm[0]); close(pm[1]); close(pe[0]); close(pe[1]);
    close(pc[0]); close(pc[1]);
    errno = e;
    return -1;
  }
  if (q->pid == 0) {
    char *args[2];
    close(pm[1]); close(pe[1]); close(pc[0]);
    /* pc[1] may sit on 0 or 1; park it high before the dup2s */
    if (fd_move(60, pc[1]) == -1) _exit(120);
    if (fd_move(0, pm[0]) == -1) _exit(120);
    if (fd_move(1, pe[0]) == -1) _exit(120);
    if (fd_move(6, 60) == -1) _exit(120);
    signal(SIGPIPE, SIG_DFL);
    args[0] = (char *)prog;
    args[1] = 0;
    execv(prog, args);
    _exit(120);
  }
  close(pm[0]); close(pe[0]); close(pc[1]);
  fd_cloexec(pm[1]); fd_cloexec(pe[1]); fd_cloexec(pc[0]);
  q->fdm = pm[1];
  q->fde = pe[1];
  q->fdc = pc[0];
  bio_init(&q->b, q->fdm, q->buf, sizeof q->buf);
  return 0;
}

unsigned long qmail_qp(const qmail *q) { return (unsigned long)q->pid; }

void qmail_fail(qmail *q) { q->flagerr = 1; }

void qmail_put(qmail *q, const char *s, size_t n)
{
  if (!q->flagerr && !bio_put(&q->b, s, n)) q->flagerr = 1;
}

void qmail_puts(qmail *q, const char *s) { qmail_put(q, s, strlen(s)); }

/* qmail_copyfd - the rest of fd, read straight into the message */
void qmail_copyfd(qmail *q, int fd)
{
  char buf[BIO_SIZE];
  ssize_t r;

  for (;;) {
    r = bio_rawread(fd, buf, sizeof buf, 0);
    if (r == 0) return;
    if (r == -1) { qmail_fail(q); return; }
    qmail_put(q, buf, (size_t)r);
  }
}

void qmail_fromb(qmail *q, const char *s, size_t n)
{
  if (!q->flagerr && !bio_flush(&q->b)) q->flagerr = 1;
  close(q->fdm);
  q->fdm = -1;
  bio_init(&q->b, q->fde, q->buf, sizeof q->buf);
  qmail_put(q, "F", 1);
  qmail_put(q, s, n);
  qmail_put(q, "", 1);
}

void qmail_from(qmail *q, const char *s) { qmail_fromb(q, s, strlen(s)); }

void qmail_tob(qmail *q, const char *s, size_t n)
{
  qmail_put(q, "T", 1);
  qmail_put(q, s, n);
  qmail_put(q, "", 1);
}

void qmail_to(qmail *q, const char *s) { qmail_tob(q, s, strlen(s)); }

const char *qmail_exittext(int code)
{
  switch (code) {
    case 0: return "";
    case 11: return "Denvelope address too long for qq (#5.1.3)";
    case 31: return "Dmail server permanently rejected message (#5.3.0)";
    case 51: return "Zqq out of memory (#4.3.0)";
    case 52: return "Zqq timeout (#4.3.0)";
    case 53: return "Zqq write error or disk full (#4.3.0)";
    case 54: return "Zqq read error (#4.3.0)";
    case 55: return "Zqq unable to read configuration (#4.3.0)";
    case 56: return "Zqq trouble making network connection (#4.3.0)";
    case 61: return "Zqq trouble in home directory (#4.3.0)";
    case 63: case 64: case 65: case 66: case 62:
      return "Zqq trouble creating files in queue (#4.3.0)";
    case 71: return "Zmail server temporarily rejected message (#4.3.0)";
    case 72: return "Zconnection to mail server timed out (#4.4.1)";
    case 73: return "Zconnection to mail server rejected (#4.4.1)";
    case 74: return "Zcommunication with mail server failed (#4.4.2)";
    case 91: /* fall through */
    case 81: return "Zqq internal bug (#4.3.0)";
    case 120: return "Zunable to exec qq (#4.3.0)";
    default:
      if (code >= 11 && code <= 40) return "Dqq permanent problem (#5.3.0)";
      return "Zqq temporary problem (#4.3.0)";
  }
}

/* readcustom - the fd 6 text of an exit 82, up to 1000 bytes */
static void readcustom(qmail *q)
{
  char buf[256];
  ssize_t r;
  while ((r = read(q->fdc, buf, sizeof buf)) > 0 || (r == -1 && errno == EINTR)) {
    if (r <= 0) continue;
    if (q->custom.len < 1000 && !sa_catb(&q->custom, buf, (size_t)r)) break;
  }
}

const char *qmail_close(qmail *q)
{
  int status, code;

  if (q->fdm != -1) { /* qmail_from never ran: abort */
    close(q->fdm);
    q->fdm = -1;
    q->flagerr = 1;
  }
  qmail_put(q, "", 1); /* the empty record that ends the envelope; not after a failure */
  if (!q->flagerr && !bio_flush(&q->b)) q->flagerr = 1;
  close(q->fde);
  if (!q->flagerr) readcustom(q);
  close(q->fdc);
  if (wait_pid(q->pid, &status) == -1) return "Zqq waitpid surprise (#4.3.0)";
  if (!WIFEXITED(status)) return "Zqq crashed (#4.3.0)";
  code = WEXITSTATUS(status);
  if (code == 82 && q->custom.len > 1 &&
      (q->custom.s[0] == 'D' || q->custom.s[0] == 'Z')) {
    size_t i;
    for (i = 0; i < q->custom.len; ++i)
      if (q->custom.s[i] == '\n' || q->custom.s[i] == 0) break;
    q->custom.len = i;
    if (sa_0(&q->custom)) return q->custom.s;
    return "Zqq out of memory (#4.3.0)";
  }
  if (q->flagerr && code == 0) return "Zqq write error (#4.3.0)";
  if (q->flagerr && code != 0) return qmail_exittext(code);
  return qmail_exittext(code);
}
