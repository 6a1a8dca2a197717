/* qmail-authd - check passwords for an unprivileged server, over a UNIX
 * socket. Usage: qmail-authd [ -u user ] [ -c max ] socket checkpassword
 * [ arg ... ]. Runs as root (checkpassword must read /etc/shadow), binds
 * socket mode 0660 owned by root and user's primary group (default
 * qmaild), and serves only peers whose uid is user's or root's
 * (SO_PEERCRED). Per connection, a child reads one request, the
 * checkpassword interface's "name\0password\0timestamp\0" (at most
 * CHECKPW_MAX bytes, ended by the client's shutdown; the timestamp may be
 * left out, as checkpassword allows), runs checkpassword
 * with it on fd 3 and fds 0 and 1 on /dev/null, and answers one byte: the
 * exit code (0 a good login, 1 refused, 111 temporary). It never parses
 * SMTP or anything else from the network; the request's shape is all it
 * checks. Exit 100 for misuse, 111 when it cannot set up the socket. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "auto.h"
#include "bio.h"
#include "fd.h"
#include "ids.h"
#include "say.h"
#include "scan.h"
#include "sig.h"
#include "unixsock.h"
#include "waitchild.h"

#define FATAL "qmail-authd: fatal: "
#define WARN "qmail-authd: warning: "
#define CHECKPW_MAX 512
#define READTIME 10         /* seconds for a client to send its request */
#define CHECKTIME 60        /* seconds checkpassword may take */

static noreturn void usage(void)
{
  die(100, "qmail-authd: usage: qmail-authd [ -u user ] [ -c max ] socket checkpassword [ arg ... ]\n", NULL);
}

static char **checker;
static char data[CHECKPW_MAX + 1];

/* request - read one request from fd into data; its length, or 0 when it
 * is not one (too long, too slow, no NUL-terminated name and password) */
static size_t request(int fd)
{
  size_t n = 0, i, fields = 0;
  ssize_t r;

  for (;;) {
    r = bio_rawread(fd, data + n, sizeof data - n, READTIME);
    if (r <= 0) break;
    n += (size_t)r;
    if (n > CHECKPW_MAX) return 0;
  }
  if (r < 0) return 0;
  for (i = 0; i < n; ++i) if (!data[i]) ++fields;
  if (fields < 2) return 0;
  return n;
}

/* runcheck - checkpassword with data[0..n) on fd 3: its exit code */
static int runcheck(size_t n)
{
  int pi[2], status, fd, code;
  pid_t pid;

  if (pipe(pi) == -1) return 111;
  pid = fork();
  if (pid == -1) return 111;
  if (pid == 0) {
    close(pi[1]);
    fd = open("/dev/null", O_RDWR);
    if (fd == -1 || fd_copy(0, fd) == -1 || fd_copy(1, fd) == -1) _exit(111);
    if (fd_move(3, pi[0]) == -1) _exit(111);
    sig_default(SIGPIPE);
    sig_default(SIGCHLD);
    alarm(CHECKTIME);                   /* survives exec: a stuck checker dies */
    execvp(checker[0], checker);
    say(2, WARN, "unable to run ", checker[0], ": ", say_errno(), "\n", NULL);
    _exit(111);
  }
  close(pi[0]);
  bio_writeall(pi[1], data, n, CHECKTIME);  /* a checker that stops early says why by its exit */
  explicit_bzero(data, sizeof data);
  close(pi[1]);
  if (wait_pid(pid, &status) == -1) return 111;
  code = wait_exitcode(status);
  if (code < 0 || code > 255) return 111;   /* crashed or killed */
  return code;
}

/* serve - one connection, in its own process */
static noreturn void serve(int c)
{
  size_t n;
  char code;

  alarm(READTIME + CHECKTIME + 10);
  n = request(c);
  code = n ? (char)runcheck(n) : 2;
  explicit_bzero(data, sizeof data);
  bio_writeall(c, &code, 1, READTIME);
  _exit(0);
}

/* listen_on - bind path as a socket for root and gid only */
static int listen_on(const char *path, gid_t gid)
{
  const char *step;
  int s = unixsock_listen(path, 0, gid, 0660, 64, &step);
  if (s == -1) die(111, FATAL, "unable to ", step, " ", path, ": ", say_errno(), "\n", NULL);
  return s;
}

int main(int argc, char **argv)
{
  const char *user = auto_userd;
  unsigned long max = 20, children = 0;
  uid_t uid;
  gid_t gid;
  int opt, s, c, status;
  pid_t pid;

  sig_ignore(SIGPIPE);
  while ((opt = getopt(argc, argv, "+u:c:")) != -1) {
    switch (opt) {
      case 'u': user = optarg; break;
      case 'c': if (!scan_ulong(optarg, &max) || !max) usage(); break;
      default: usage();
    }
  }
  if (argc - optind < 2) usage();
  checker = argv + optind + 1;
  if (geteuid() != 0) say(2, WARN, "not running as root: checkpassword cannot read /etc/shadow\n", NULL);
  if (!ids_user(user, &uid, &gid)) die(111, FATAL, "unable to find user ", user, "\n", NULL);
  s = listen_on(argv[optind], gid);

  for (;;) {
    while (children && (pid = wait_nohang(&status)) > 0) --children;
    if (children >= max) {                /* full: wait for one to end */
      if (wait_pid(-1, &status) > 0) --children;
      continue;
    }
    c = accept4(s, 0, 0, SOCK_CLOEXEC);
    if (c == -1) {
      if (errno != EINTR && errno != ECONNABORTED) { say(2, WARN, "accept: ", say_errno(), "\n", NULL); sleep(1); }
      continue;
    }
    if (!unixsock_peerok(c, uid)) { close(c); continue; }
    pid = fork();
    if (pid == 0) { close(s); serve(c); }
    if (pid == -1) say(2, WARN, "unable to fork: ", say_errno(), "\n", NULL);
    else ++children;
    close(c);
  }
}
