/* driver - main of every library harness in tests/fuzz.
 * Under afl-clang-fast it runs AFL++'s shared-memory persistent loop (many
 * inputs per process). Otherwise it replays: each file named on the command
 * line (or stdin when none) goes through fuzz_one in a child process of its
 * own, and the exit code is 1 when any child did not exit 0 (a crash, a
 * sanitizer report, a broken property), naming the file. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <fcntl.h>
#include <unistd.h>

#include "fuzz.h"

#define MAXINPUT (1 << 20)

noreturn void fuzz_fail(const char *what)
{
  static const char pre[] = "fuzz: property broken: ";
  if (write(2, pre, sizeof pre - 1) < 0 || write(2, what, strlen(what)) < 0 ||
      write(2, "\n", 1) < 0) { /* nothing more to say */ }
  abort();
}

int fuzz_fd(const unsigned char *data, size_t len)
{
  int fd = memfd_create("fuzz", 0);
  size_t done = 0;
  if (fd == -1) fuzz_fail("memfd_create");
  while (done < len) {
    ssize_t w = write(fd, data + done, len - done);
    if (w <= 0) fuzz_fail("write to memfd");
    done += (size_t)w;
  }
  if (lseek(fd, 0, SEEK_SET) != 0) fuzz_fail("lseek");
  return fd;
}

/* one - fuzz_one on a private copy of exactly len bytes */
static void one(const unsigned char *data, size_t len)
{
  unsigned char *copy = malloc(len ? len : 1);
  if (!copy) fuzz_fail("out of memory");
  if (len) memcpy(copy, data, len);
  fuzz_one(copy, len);
  free(copy);
}

#ifdef __AFL_FUZZ_TESTCASE_LEN
__AFL_FUZZ_INIT();

int main(void)
{
  unsigned char *buf;
  __AFL_INIT();
  buf = __AFL_FUZZ_TESTCASE_BUF;
  while (__AFL_LOOP(10000)) one(buf, (size_t)__AFL_FUZZ_TESTCASE_LEN);
  return 0;
}
#else

static unsigned char input[MAXINPUT];

/* replay - run one input from fd in a child; 0 when it exited 0 */
static int replay(int fd, const char *name)
{
  size_t len = 0;
  ssize_t r;
  pid_t pid;
  int st;

  while (len < sizeof input && (r = read(fd, input + len, sizeof input - len)) > 0) len += (size_t)r;
  pid = fork();
  if (pid == -1) { perror("fuzz: fork"); return 1; }
  if (pid == 0) { one(input, len); _exit(0); }
  if (waitpid(pid, &st, 0) != pid) { perror("fuzz: waitpid"); return 1; }
  if (WIFEXITED(st) && WEXITSTATUS(st) == 0) return 0;
  fprintf(stderr, "fuzz: %s: %s %d\n", name, WIFSIGNALED(st) ? "killed by signal" : "exit",
          WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st));
  return 1;
}

int main(int argc, char **argv)
{
  int bad = 0, i;

  if (argc < 2) return replay(0, "stdin");
  for (i = 1; i < argc; ++i) {
    int fd = open(argv[i], O_RDONLY);
    if (fd == -1) { perror(argv[i]); bad = 1; continue; }
    bad |= replay(fd, argv[i]);
    close(fd);
  }
  return bad;
}
#endif
