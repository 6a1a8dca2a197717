/* rates - the limits a mail system's speed is measured against.
 *
 *   rates fsync DIR SECONDS WRITERS
 *     WRITERS processes each loop for SECONDS: create a new small file in
 *     DIR, write 1 KB, fsync, close, unlink. Prints the total number of
 *     fsyncs per second (all writers together).
 *   rates spawn SECONDS
 *     fork, exec /bin/true, wait, in a loop. Prints spawns per second.
 *   rates request FILE SECONDS
 *     rewrites FILE's first 4 KB and sends it to the disk, waiting for it
 *     (sync_file_range), in a loop: one disk request each. Prints the
 *     CPU time all CPUs spent outside idle meanwhile (/proc/stat), in
 *     microseconds per request: what a request costs the machine, its
 *     system calls and what they set going (the block layer, the
 *     device's doorbell, its interrupt, the wake-up), on a virtual
 *     machine the most.
 *   rates inject COUNT PARALLEL FILE PROG [ARG...]
 *     runs PROG ARG... COUNT times, PARALLEL at a time, each with FILE on
 *     its stdin (the benchmark's injector, cheaper than a script's fork).
 *     Prints the number of runs that did not exit 0; exits 1 if any.
 *   rates queue COUNT PARALLEL QMAILQUEUE FILE SENDER PREFIX SUFFIX
 *     fills a queue fast, through qmail-queue itself (bench/scale.py):
 *     runs QMAILQUEUE COUNT times, PARALLEL at a time, each with FILE on
 *     fd 0 and the envelope `F<SENDER>\0 T<PREFIX><i><SUFFIX>\0 \0` on
 *     fd 1 (a pipe), i = 0 .. COUNT-1. Prints "<failed> <seconds>".
 *
 * Output is one line. Exit 0, or 111 on any failure. */
#define _GNU_SOURCE   /* sync_file_range */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
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
  fprintf(stderr, "rates: %s: %s\n", what, strerror(errno));
  exit(111);
}

/* one writer: returns the number of fsyncs done before the deadline */
static unsigned long writer(const char *dir, int id, double until)
{
  char path[4096];
  char buf[1024];
  unsigned long n = 0;
  memset(buf, 'x', sizeof buf);
  while (now() < until) {
    int fd;
    if ((size_t)snprintf(path, sizeof path, "%s/w%d.%lu", dir, id, n) >= sizeof path)
      fail("path too long");
    fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
    if (fd == -1) fail("open");
    if (write(fd, buf, sizeof buf) != (ssize_t)sizeof buf) fail("write");
    if (fsync(fd) == -1) fail("fsync");
    if (close(fd) == -1) fail("close");
    if (unlink(path) == -1) fail("unlink");
    ++n;
  }
  return n;
}

static int fsyncrate(const char *dir, double secs, int writers)
{
  int p[2];
  int i;
  unsigned long total = 0;
  double start, until;
  if (writers < 1 || writers > 64) { errno = EINVAL; fail("writers"); }
  if (pipe(p) == -1) fail("pipe");
  start = now();
  until = start + secs;
  for (i = 0; i < writers; ++i) {
    pid_t pid = fork();
    if (pid == -1) fail("fork");
    if (pid == 0) {
      unsigned long n = writer(dir, i, until);
      close(p[0]);
      if (write(p[1], &n, sizeof n) != (ssize_t)sizeof n) _exit(111);
      _exit(0);
    }
  }
  close(p[1]);
  for (i = 0; i < writers; ++i) {
    unsigned long n;
    if (read(p[0], &n, sizeof n) != (ssize_t)sizeof n) { errno = EIO; fail("writer"); }
    total += n;
  }
  while (wait(NULL) > 0) ;
  printf("%.1f\n", (double)total / (now() - start));
  return 0;
}

static int spawnrate(double secs)
{
  unsigned long n = 0;
  double start = now(), until = start + secs;
  char *args[] = { "true", NULL };
  char *env[] = { NULL };
  while (now() < until) {
    int st;
    pid_t pid = fork();
    if (pid == -1) fail("fork");
    if (pid == 0) {
      execve("/bin/true", args, env);
      _exit(127);
    }
    if (waitpid(pid, &st, 0) != pid) fail("waitpid");
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) { errno = ECHILD; fail("/bin/true"); }
    ++n;
  }
  printf("%.1f\n", (double)n / (now() - start));
  return 0;
}

/* busy - CPU seconds all CPUs have spent so far outside idle and iowait,
 * steal left out (/proc/stat: user nice system irq softirq) */
static double busy(void)
{
  unsigned long long user, nice, sys, idle, iowait, irq, softirq;
  FILE *f = fopen("/proc/stat", "r");
  int got;
  if (!f) fail("/proc/stat");
  got = fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu",
               &user, &nice, &sys, &idle, &iowait, &irq, &softirq);
  fclose(f);
  if (got != 7) { errno = EPROTO; fail("/proc/stat"); }
  return (double)(user + nice + sys + irq + softirq) / (double)sysconf(_SC_CLK_TCK);
}

static int requestcost(const char *file, double secs)
{
  char buf[4096];
  unsigned long n = 0;
  double start, until, cpu;
  int fd = open(file, O_RDWR | O_CREAT | O_TRUNC, 0600);
  if (fd == -1) fail("open");
  memset(buf, 'x', sizeof buf);
  if (write(fd, buf, sizeof buf) != (ssize_t)sizeof buf || fsync(fd) == -1) fail("write");
  cpu = busy();
  start = now();
  until = start + secs;
  while (now() < until) {
    buf[0] = (char)n;
    if (pwrite(fd, buf, sizeof buf, 0) != (ssize_t)sizeof buf) fail("pwrite");
    if (sync_file_range(fd, 0, sizeof buf, SYNC_FILE_RANGE_WAIT_BEFORE | SYNC_FILE_RANGE_WRITE |
                        SYNC_FILE_RANGE_WAIT_AFTER) == -1)
      fail("sync_file_range");
    ++n;
  }
  cpu = busy() - cpu;
  if (close(fd) == -1 || unlink(file) == -1) fail("close");
  printf("%.1f\n", n ? cpu * 1e6 / (double)n : 0.0);
  return 0;
}

/* runmany - start(i, ctx) for i = 0 .. count-1, par children at a time;
 * the number of children that did not exit 0 */
static unsigned long runmany(unsigned long count, int par, void (*start)(unsigned long, void *), void *ctx)
{
  unsigned long started = 0, failed = 0;
  int running = 0;
  if (par < 1 || par > 256) { errno = EINVAL; fail("parallel"); }
  while (started < count || running) {
    int st;
    while (running < par && started < count) {
      start(started++, ctx);
      ++running;
    }
    if (wait(&st) == -1) fail("wait");
    --running;
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) ++failed;
  }
  return failed;
}

struct injectjob { const char *file; char **argv; };

/* inject_one - PROG ARG... with FILE on fd 0 and /dev/null on fd 1 */
static void inject_one(unsigned long i, void *ctx)
{
  struct injectjob *j = ctx;
  (void)i;
  pid_t pid = fork();
  if (pid == -1) fail("fork");
  if (pid == 0) {
    int fd = open(j->file, O_RDONLY), null = open("/dev/null", O_WRONLY);
    if (fd == -1 || dup2(fd, 0) == -1) _exit(111);
    if (null == -1 || dup2(null, 1) == -1) _exit(111);
    if (fd != 0) close(fd);
    if (null != 1) close(null);
    execv(j->argv[0], j->argv);
    _exit(111);
  }
}

static int inject(unsigned long count, int par, const char *file, char **argv)
{
  struct injectjob j = { file, argv };
  unsigned long failed = runmany(count, par, inject_one, &j);
  printf("%lu\n", failed);
  return failed ? 1 : 0;
}

struct queuejob { const char *prog, *file, *sender, *prefix, *suffix; };

/* queue_one - qmail-queue with FILE on fd 0 and envelope number i on fd 1 */
static void queue_one(unsigned long i, void *ctx)
{
  struct queuejob *j = ctx;
  char env[2048];
  int p[2], n;
  pid_t pid;

  n = snprintf(env, sizeof env, "F%s%cT%s%lu%s%c%c", j->sender, 0, j->prefix, i, j->suffix, 0, 0);
  if (n < 0 || (size_t)n >= sizeof env) { errno = ERANGE; fail("envelope"); }
  if (pipe(p) == -1) fail("pipe");
  pid = fork();
  if (pid == -1) fail("fork");
  if (pid == 0) {
    int fd = open(j->file, O_RDONLY);
    if (fd == -1 || dup2(fd, 0) == -1 || dup2(p[0], 1) == -1) _exit(111);
    close(p[0]);
    close(p[1]);
    if (fd != 0) close(fd);
    execl(j->prog, j->prog, (char *)0);
    _exit(111);
  }
  close(p[0]);
  /* the envelope is far smaller than a pipe's buffer: one write */
  if (write(p[1], env, (size_t)n) != (ssize_t)n) fail("write");
  close(p[1]);
}

static int queue(unsigned long count, int par, char **argv)
{
  struct queuejob j = { argv[0], argv[1], argv[2], argv[3], argv[4] };
  double t0 = now();
  unsigned long failed;

  signal(SIGPIPE, SIG_IGN);
  failed = runmany(count, par, queue_one, &j);
  printf("%lu %.3f\n", failed, now() - t0);
  return failed ? 1 : 0;
}

int main(int argc, char **argv)
{
  if (argc == 5 && !strcmp(argv[1], "fsync"))
    return fsyncrate(argv[2], atof(argv[3]), atoi(argv[4]));
  if (argc == 3 && !strcmp(argv[1], "spawn"))
    return spawnrate(atof(argv[2]));
  if (argc == 4 && !strcmp(argv[1], "request"))
    return requestcost(argv[2], atof(argv[3]));
  if (argc >= 6 && !strcmp(argv[1], "inject"))
    return inject(strtoul(argv[2], NULL, 10), atoi(argv[3]), argv[4], argv + 5);
  if (argc == 9 && !strcmp(argv[1], "queue"))
    return queue(strtoul(argv[2], NULL, 10), atoi(argv[3]), argv + 4);
  fprintf(stderr, "usage: rates fsync DIR SECONDS WRITERS | rates spawn SECONDS |\n"
          "       rates request FILE SECONDS |\n"
          "       rates inject COUNT PARALLEL FILE PROG [ARG...] |\n"
          "       rates queue COUNT PARALLEL QMAILQUEUE FILE SENDER PREFIX SUFFIX\n");
  return 100;
}
