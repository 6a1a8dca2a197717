/* qmail-tcpok - clear qmail-remote's table of hosts that timed out: all
 * 1024 bytes of queue/lock/tcpto become zero, under the table's lock. The
 * file keeps its owner (qmailr), so it is opened, never created. */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "lock.h"
#include "say.h"
#include "auto.h"
#include "tcpto.h"

#define FATAL "qmail-tcpok: fatal: "

int main(void)
{
  char zeros[TCPTO_SIZE];
  ssize_t w;
  int fd;

  if (chdir(auto_home) == -1) die(111, FATAL, "unable to chdir to ", auto_home, ": ", say_errno(), "\n", NULL);
  fd = open(TCPTO_FILE, O_WRONLY | O_NONBLOCK);
  if (fd == -1) die(111, FATAL, "unable to open ", auto_home, "/", TCPTO_FILE, ": ", say_errno(), "\n", NULL);
  if (lock_ex(fd) == -1) die(111, FATAL, "unable to lock ", auto_home, "/", TCPTO_FILE, ": ", say_errno(), "\n", NULL);
  memset(zeros, 0, sizeof zeros);
  do w = pwrite(fd, zeros, sizeof zeros, 0); while (w == -1 && errno == EINTR);
  if (w != (ssize_t)sizeof zeros || fsync(fd) == -1)
    die(111, FATAL, "unable to clear ", auto_home, "/", TCPTO_FILE, ": ", say_errno(), "\n", NULL);
  close(fd);
  return 0;
}
