/* wait - waitpid(2) wrappers that retry EINTR.
 * wait_pid returns the pid, or -1 with errno set; *status as waitpid. */
#ifndef WAIT_H
#define WAIT_H

#include <sys/types.h>
#include <sys/wait.h>

pid_t wait_pid(pid_t pid, int *status);
pid_t wait_nohang(int *status);
/* wait_exitcode - exit code, or -1 if killed by a signal */
int wait_exitcode(int status);

#endif
