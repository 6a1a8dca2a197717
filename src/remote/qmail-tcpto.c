/* qmail-tcpto - print qmail-remote's table of hosts that timed out
 * (queue/lock/tcpto, layout in src/mail/tcpto.h). Read-only. */
#include <errno.h>
#include <fcntl.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

#include "bio.h"
#include "fmt.h"
#include "lock.h"
#include "say.h"
#include "auto.h"
#include "tcpto.h"

#define FATAL "qmail-tcpto: fatal: "

static char obuf[BIO_SIZE];
static bio ob = BIO_INIT(1, obuf, sizeof obuf);

int main(void)
{
  unsigned char buf[TCPTO_SIZE];
  struct tcpto_entry e[TCPTO_SIZE / 16];
  char ip[IPADDR_FMT];
  unsigned long now = (unsigned long)time(0);
  size_t n, k;
  ssize_t r;
  int fd;

  if (chdir(auto_home) == -1) die(111, FATAL, "unable to chdir to ", auto_home, ": ", say_errno(), "\n", NULL);
  fd = open(TCPTO_FILE, O_RDONLY | O_NONBLOCK);
  if (fd == -1) die(111, FATAL, "unable to open ", TCPTO_FILE, ": ", say_errno(), "\n", NULL);
  /* a shared flock: qmail-remote writes only under its exclusive one */
  if (flock(fd, LOCK_SH) == -1) die(111, FATAL, "unable to lock ", TCPTO_FILE, ": ", say_errno(), "\n", NULL);
  do r = pread(fd, buf, sizeof buf, 0); while (r == -1 && errno == EINTR);
  if (r == -1) die(111, FATAL, "unable to read ", TCPTO_FILE, ": ", say_errno(), "\n", NULL);
  close(fd);

  n = tcpto_parse(buf, (size_t)r, e, sizeof e / sizeof e[0]);
  for (k = 0; k < n; ++k) {
    ipaddr_fmt(ip, &e[k].ip);
    bio_puts(&ob, ip);
    bio_puts(&ob, " timed out ");
    bio_putulong(&ob, now >= e[k].when ? now - e[k].when : 0);
    bio_puts(&ob, " seconds ago; # recent timeouts: ");
    bio_putulong(&ob, e[k].count);
    bio_puts(&ob, "\n");
  }
  if (!bio_flush(&ob)) die(111, FATAL, "unable to write output: ", say_errno(), "\n", NULL);
  return 0;
}
