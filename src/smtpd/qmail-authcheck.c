/* qmail-authcheck - a checkpassword-compatible client of qmail-authd.
 * Usage: qmail-authcheck socket prog [ arg ... ]. Reads
 * "name\0password\0timestamp\0" (at most CHECKPW_MAX bytes) from fd 3,
 * sends it to the qmail-authd listening on socket and takes its one-byte
 * answer. On a good login it sets USER to the name and execs prog (as its
 * own uid: it changes no privileges); otherwise it exits with the answer:
 * 1 refused, 2 misuse, 111 temporary (also when the service is down).
 * It lets qmail-smtpd, running as qmaild, check system accounts' passwords
 * without ever being root itself. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bio.h"
#include "say.h"
#include "unixsock.h"

#define FATAL "qmail-authcheck: fatal: "
#define CHECKPW_MAX 512
#define ANSWERTIME 90       /* seconds qmail-authd may take */

static char data[CHECKPW_MAX + 1];

static noreturn void die_temp(const char *what, const char *path)
{
  explicit_bzero(data, sizeof data);
  die(111, FATAL, what, path, ": ", say_errno(), "\n", NULL);
}

/* readdata - fd 3 to EOF into data; returns the length */
static size_t readdata(void)
{
  size_t n = 0;
  ssize_t r;

  for (;;) {
    r = bio_rawread(3, data + n, sizeof data - n, ANSWERTIME);
    if (r == -1) {
      if (errno == EBADF) die(2, FATAL, "nothing to read on descriptor 3\n", NULL);
      die_temp("unable to read descriptor ", "3");
    }
    if (r == 0) break;
    n += (size_t)r;
    if (n > CHECKPW_MAX) { explicit_bzero(data, sizeof data); die(2, FATAL, "more than 512 bytes on descriptor 3\n", NULL); }
  }
  close(3);
  return n;
}

int main(int argc, char **argv)
{
  const char *path, *step;
  size_t n, l;
  ssize_t r;
  char code;
  int s;

  if (argc < 3) die(2, "qmail-authcheck: usage: qmail-authcheck socket program [ arg ... ]\n", NULL);
  path = argv[1];
  n = readdata();
  l = strnlen(data, n);
  if (l == n) die(2, FATAL, "no login name on descriptor 3\n", NULL);
  if (strnlen(data + l + 1, n - l - 1) == n - l - 1) die(2, FATAL, "no password on descriptor 3\n", NULL);

  s = unixsock_connect(path, &step);
  if (s == -1) {
    int e = errno;
    explicit_bzero(data, sizeof data);
    errno = e;
    die(111, FATAL, "unable to ", step, " ", path, ": ", say_errno(), "\n", NULL);
  }
  if (!bio_writeall(s, data, n, ANSWERTIME)) die_temp("unable to write to ", path);
  explicit_bzero(data + l + 1, sizeof data - l - 1);     /* the name stays, for USER */
  if (shutdown(s, SHUT_WR) == -1) die_temp("unable to write to ", path);
  r = bio_rawread(s, &code, 1, ANSWERTIME);
  if (r == -1) die_temp("unable to read from ", path);
  if (r == 0) { errno = EPROTO; die_temp("no answer from ", path); }
  close(s);
  if (code) _exit((unsigned char)code);
  if (setenv("USER", data, 1) == -1) die_temp("unable to set ", "USER");
  execvp(argv[2], argv + 2);
  die_temp("unable to run ", argv[2]);
}
