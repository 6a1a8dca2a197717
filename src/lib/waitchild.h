/* waitchild - waitpid(2) wrappers.
 * wait_pid waits for pid (retrying EINTR) and returns it, or -1 with errno
 * set; *status as waitpid. wait_nohang reaps any ended child without
 * waiting: its pid, 0 when none has ended, -1 (ECHILD) when none is left. */
#ifndef WAITCHILD_H
#define WAITCHILD_H

#include <sys/types.h>
#include <sys/wait.h>

pid_t wait_pid(pid_t pid, int *status);
pid_t wait_nohang(int *status);
/* wait_exitcode - exit code, or -1 if killed by a signal */
int wait_exitcode(int status);

#endif
