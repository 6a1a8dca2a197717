/* rates - the two limits a mail system's speed is measured against.
 *
 *   rates fsync DIR SECONDS WRITERS
 *     WRITERS processes each loop for SECONDS: create a new small file in
 *     DIR, write 1 KB, fsync, close, unlink. Prints the total number of
 *     fsyncs per second (all writers together).
 *   rates spawn SECONDS
 *     fork, exec /bin/true, wait, in a loop. Prints spawns per second.
 *   rates inject COUNT PARALLEL FILE PROG [ARG...]
 *     runs PROG ARG... COUNT times, PARALLEL at a time, each with FILE on
 *     its stdin (the benchmark's injector, cheaper than a script's fork).
 *     Prints the number of runs that did not exit 0; exits 1 if any.
 *
 * Output is one number on one line. Exit 0, or 111 on any failure. */
#include <errno.h>
#include <fcntl.h>
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

static int inject(unsigned long count, int par, const char *file, char **argv)
{
  unsigned long started = 0, failed = 0;
  int running = 0;
  if (par < 1 || par > 256) { errno = EINVAL; fail("parallel"); }
  while (started < count || running) {
    int st;
    while (running < par && started < count) {
      pid_t pid = fork();
      if (pid == -1) fail("fork");
      if (pid == 0) {
        int fd = open(file, O_RDONLY), null = open("/dev/null", O_WRONLY);
        if (fd == -1 || dup2(fd, 0) == -1) _exit(111);
        if (null == -1 || dup2(null, 1) == -1) _exit(111);
        if (fd != 0) close(fd);
        if (null != 1) close(null);
        execv(argv[0], argv);
        _exit(111);
      }
      ++started;
      ++running;
    }
    if (wait(&st) == -1) fail("wait");
    --running;
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) ++failed;
  }
  printf("%lu\n", failed);
  return failed ? 1 : 0;
}

int main(int argc, char **argv)
{
  if (argc == 5 && !strcmp(argv[1], "fsync"))
    return fsyncrate(argv[2], atof(argv[3]), atoi(argv[4]));
  if (argc == 3 && !strcmp(argv[1], "spawn"))
    return spawnrate(atof(argv[2]));
  if (argc >= 6 && !strcmp(argv[1], "inject"))
    return inject(strtoul(argv[2], NULL, 10), atoi(argv[3]), argv[4], argv + 5);
  fprintf(stderr, "usage: rates fsync DIR SECONDS WRITERS | rates spawn SECONDS |\n"
          "       rates inject COUNT PARALLEL FILE PROG [ARG...]\n");
  return 100;
}
