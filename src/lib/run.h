/* run - start a program and learn how it ended.
 * run_start forks; the child puts fdin on fd 0 (when fdin is not -1),
 * restores SIGPIPE to the default and execvp()s argv. run_wait then
 * returns the child's exit code (0..255), RUN_CRASH when a signal ended
 * it, RUN_NOEXEC when it could not be executed for a permanent reason
 * (not found, not executable), or -1 with errno set for a temporary
 * failure (fork, an exec error such as ENOMEM, wait). Descriptors the
 * child must not inherit are the caller's to mark close-on-exec. */
#ifndef RUN_H
#define RUN_H

#include <sys/types.h>

#define RUN_CRASH 256
#define RUN_NOEXEC 257

typedef struct run {
  pid_t pid;
  int fderr;   /* reports an exec failure's errno; -1 when done */
  int err;     /* errno of a failed start */
} run;

void run_start(run *r, char *const *argv, int fdin);
int run_wait(run *r);

/* run_prog - run_start with fd 0 as it is, then run_wait */
int run_prog(char *const *argv);

#endif
