#include <errno.h>

#include "waitchild.h"

pid_t wait_pid(pid_t pid, int *status)
{
  pid_t r;
  do r = waitpid(pid, status, 0); while (r == -1 && errno == EINTR);
  return r;
}

pid_t wait_nohang(int *status) { return waitpid(-1, status, WNOHANG); }

int wait_exitcode(int status)
{
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  return -1;
}
