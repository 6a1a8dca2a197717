/* qinject - fill a queue fast, through qmail-queue itself (bench/scale.py).
 *
 *   qinject COUNT PARALLEL QMAILQUEUE FILE SENDER PREFIX SUFFIX
 *     runs QMAILQUEUE COUNT times, PARALLEL at a time, each with FILE on
 *     fd 0 and the envelope `F<SENDER>\0 T<PREFIX><i><SUFFIX>\0 \0` on
 *     fd 1 (a pipe), i = 0 .. COUNT-1: one message to one recipient each,
 *     every one through the real door of the queue.
 *
 * Prints "<failed> <seconds>" on one line; exits 1 if any run failed,
 * 111 on trouble of its own. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void fail(const char *what)
{
  fprintf(stderr, "qinject: %s: %s\n", what, strerror(errno));
  exit(111);
}

/* start - one qmail-queue for recipient number i */
static void start(const char *prog, const char *file, const char *env, size_t envlen)
{
  int p[2];
  pid_t pid;

  if (pipe(p) == -1) fail("pipe");
  pid = fork();
  if (pid == -1) fail("fork");
  if (pid == 0) {
    int fd = open(file, O_RDONLY);
    if (fd == -1 || dup2(fd, 0) == -1 || dup2(p[0], 1) == -1) _exit(111);
    close(p[0]);
    close(p[1]);
    if (fd != 0) close(fd);
    execl(prog, prog, (char *)0);
    _exit(111);
  }
  close(p[0]);
  /* the envelope is far smaller than a pipe's buffer: one write */
  if (write(p[1], env, envlen) != (ssize_t)envlen) fail("write");
  close(p[1]);
}

int main(int argc, char **argv)
{
  char env[2048];
  unsigned long count, i = 0, failed = 0;
  int par, running = 0;
  double t0;

  if (argc != 8) {
    fprintf(stderr, "usage: qinject COUNT PARALLEL QMAILQUEUE FILE SENDER PREFIX SUFFIX\n");
    return 100;
  }
  count = strtoul(argv[1], NULL, 10);
  par = atoi(argv[2]);
  if (par < 1 || par > 256) { errno = EINVAL; fail("parallel"); }
  signal(SIGPIPE, SIG_IGN);
  t0 = now();
  while (i < count || running) {
    int st;
    while (running < par && i < count) {
      int n = snprintf(env, sizeof env, "F%s%cT%s%lu%s%c%c", argv[5], 0, argv[6], i, argv[7], 0, 0);
      if (n < 0 || (size_t)n >= sizeof env) { errno = ERANGE; fail("envelope"); }
      start(argv[3], argv[4], env, (size_t)n);
      ++i;
      ++running;
    }
    if (wait(&st) == -1) fail("wait");
    --running;
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) ++failed;
  }
  printf("%lu %.3f\n", failed, now() - t0);
  return failed ? 1 : 0;
}
