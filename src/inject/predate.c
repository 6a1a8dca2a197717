/* predate - run a program with a Date field for now put in front of the
 * message it reads. Usage: predate child [arg ...]. Exits with the child's
 * exit code; 100 for bad usage; 111 when the child cannot be run or dies. */
#include <errno.h>
#include <signal.h>
#include <time.h>
#include <unistd.h>

#include "bio.h"
#include "fd.h"
#include "sig.h"
#include "say.h"
#include "waitchild.h"
#include "date822.h"

#define FATAL "predate: fatal: "

int main(int argc, char **argv)
{
  static char inbuf[BIO_SIZE], outbuf[BIO_SIZE];
  bio in = BIO_INIT(0, inbuf, sizeof inbuf);
  bio out;
  sa date = SA_ZERO;
  int pi[2], status, r;
  pid_t pid;

  sig_ignore(SIGPIPE);
  if (argc < 2) die(100, "predate: usage: predate child [ arg ... ]\n", NULL);
  if (!sa_copys(&date, "Date: ") || !date822_fmt(&date, time(0)) || !sa_append(&date, '\n'))
    die(111, FATAL, "out of memory\n", NULL);
  if (pipe(pi) == -1) die(111, FATAL, "unable to create pipe: ", say_errno(), "\n", NULL);
  pid = fork();
  if (pid == -1) die(111, FATAL, "unable to fork: ", say_errno(), "\n", NULL);
  if (pid == 0) {
    close(pi[1]);
    if (fd_move(0, pi[0]) == -1) die(111, FATAL, "unable to set up fds: ", say_errno(), "\n", NULL);
    sig_default(SIGPIPE);
    execvp(argv[1], argv + 1);
    die(111, FATAL, "unable to run ", argv[1], ": ", say_errno(), "\n", NULL);
  }
  close(pi[0]);
  bio_init(&out, pi[1], outbuf, sizeof outbuf);
  /* a child that stops reading early is its own business: its exit code
   * decides, so write errors here are ignored */
  r = bio_put(&out, date.s, date.len) ? bio_copy(&out, &in) : -2;
  if (r == 1) bio_flush(&out);
  close(pi[1]);
  if (wait_pid(pid, &status) == -1) die(111, FATAL, "wait failed: ", say_errno(), "\n", NULL);
  if (r == -1) die(111, FATAL, "unable to read input: ", say_errno(), "\n", NULL);
  r = wait_exitcode(status);
  if (r == -1) die(111, FATAL, "child crashed\n", NULL);
  return r;
}
