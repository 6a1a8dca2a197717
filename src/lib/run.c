#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include "run.h"
#include "errtemp.h"
#include "waitchild.h"

void run_start(run *r, char *const *argv, int fdin)
{
  int p[2];

  r->pid = -1;
  r->fderr = -1;
  r->err = 0;
  if (pipe2(p, O_CLOEXEC) == -1) { r->err = errno; return; }
  r->pid = fork();
  if (r->pid == -1) {
    r->err = errno;
    close(p[0]); close(p[1]);
    return;
  }
  if (r->pid == 0) {
    int e;
    close(p[0]);
    if (fdin != -1 && fdin != 0) {
      if (dup2(fdin, 0) == -1) { e = errno; goto fail; }
      close(fdin);
    }
    signal(SIGPIPE, SIG_DFL);
    execvp(argv[0], argv);
    e = errno;
  fail:
    /* the pipe is close-on-exec: a successful exec reports nothing */
    if (write(p[1], &e, sizeof e)) {}
    _exit(127);
  }
  close(p[1]);
  r->fderr = p[0];
}

int run_wait(run *r)
{
  int e = 0, status;
  ssize_t n;

  if (r->pid == -1) { errno = r->err; return -1; }
  do n = read(r->fderr, &e, sizeof e); while (n == -1 && errno == EINTR);
  close(r->fderr);
  r->fderr = -1;
  if (wait_pid(r->pid, &status) == -1) return -1;
  if (n == (ssize_t)sizeof e) {
    if (err_temp(e) && e != EACCES && e != EPERM) { errno = e; return -1; }
    errno = e;
    return RUN_NOEXEC;
  }
  if (!WIFEXITED(status)) return RUN_CRASH;
  return WEXITSTATUS(status);
}

int run_prog(char *const *argv)
{
  run r;
  run_start(&r, argv, -1);
  return run_wait(&r);
}
