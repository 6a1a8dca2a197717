/* qmail-start - turn on mail delivery (qmail-start(8)). As root, makes the
 * pipes and starts qmail-lspawn (root), qmail-rspawn (qmailr), qmail-clean
 * (qmailq), the optional logger (qmaill/nofiles) and finally becomes
 * qmail-send (qmails), all with the qmail group alone. qmail-send's fds:
 * 0 the log, 1/2 to/from qmail-lspawn, 3/4 rspawn, 5/6 clean. The log is
 * the logger's stdin, or qmail-start's own stdout without one. The helpers
 * get the log on fd 2 too, so a helper that cannot start says why there.
 * Any failure exits 111; a logger that cannot be run is named on stderr
 * (the log has nowhere to go then), the other failures say nothing. */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "auto.h"
#include "fd.h"
#include "ids.h"
#include "priv.h"
#include "say.h"

static char *lspawnargs[] = { "qmail-lspawn", "./Mailbox", 0 };
static char path[5][4096];
static int pi[7][2];

static void fail(void) { _exit(111); }
static int errfd = -1;   /* the original stderr, for the logger's failure */

/* nologger - the logger argv[0] could not be run (errno e): say so, with a
 * hint when the default delivery looks like a program name, as in
 * `qmail-start splogger qmail`, where splogger became the delivery */
static void nologger(const char *logger, const char *delivery, int e)
{
  if (errfd == -1) fail();
  errno = e;
  say(errfd, "qmail-start: fatal: unable to run the logger ", logger, ": ", say_errno(), "\n", NULL);
  if (delivery && delivery[0] != '.' && delivery[0] != '/' && delivery[0] != '|' && delivery[0] != '&')
    say(errfd, "qmail-start: the first argument is the default delivery (", delivery,
        "), the logger comes after it: qmail-start ./Mailbox splogger qmail\n", NULL);
  fail();
}

static void closepipes(void)
{
  int i;
  for (i = 1; i < 7; ++i) { close(pi[i][0]); close(pi[i][1]); }
}

static void drop(uid_t uid, gid_t gid)
{
  if (!priv_drop(uid, gid)) fail();
}

static const char *prog(int i, const char *name)
{
  size_t n = 0, m = 0;
  while (auto_home[n]) ++n;
  while (name[m]) ++m;
  if (n + m + 6 > sizeof path[i]) fail();
  for (m = 0; m < n; ++m) path[i][m] = auto_home[m];
  path[i][n++] = '/'; path[i][n++] = 'b'; path[i][n++] = 'i'; path[i][n++] = 'n';
  path[i][n++] = '/';
  for (m = 0; name[m]; ++m) path[i][n++] = name[m];
  path[i][n] = 0;
  return path[i];
}

/* helper - fork one daemon reading pipe in, writing pipe out, log on 2 */
static void helper(const char *name, char **args, uid_t uid, gid_t gid, int in, int out)
{
  pid_t pid = fork();
  if (pid == -1) fail();
  if (pid) return;
  if (fd_copy(0, pi[in][0]) == -1) fail();
  if (fd_copy(1, pi[out][1]) == -1) fail();
  if (fd_copy(2, 3) == -1) fail();   /* fd 3 holds the log here */
  close(3); close(4); close(5); close(6);
  closepipes();
  drop(uid, gid);
  execv(name, args);
  fail();
}

int main(int argc, char **argv)
{
  uid_t uidl, uidq, uidr, uids;
  gid_t gidn, gidq;
  const char *delivery = 0;
  int i;
  static char *cleanargs[] = { "qmail-clean", 0 };
  static char *rspawnargs[] = { "qmail-rspawn", 0 };
  static char *sendargs[] = { "qmail-send", 0 };

  (void)argc;
  errfd = fcntl(2, F_DUPFD_CLOEXEC, 10);
  if (chdir("/") == -1) fail();
  umask(077);
  if (!ids_uid(auto_userl, &uidl) || !ids_uid(auto_userq, &uidq) ||
      !ids_uid(auto_userr, &uidr) || !ids_uid(auto_users, &uids)) fail();
  if (!ids_gid(auto_groupn, &gidn) || !ids_gid(auto_groupq, &gidq)) fail();
  if (argv[1]) { delivery = lspawnargs[1] = argv[1]; ++argv; }

  /* park whatever fd 0 is on 2..6 so new pipes land above them */
  for (i = 2; i <= 6; ++i) if (fd_copy(i, 0) == -1) fail();

  if (argv[1]) {
    int p0[2], st[2], e = 0;
    pid_t pid;
    /* st closes on exec: EOF means the logger runs, an errno that it does not */
    if (pipe(p0) == -1 || pipe2(st, O_CLOEXEC) == -1) fail();
    pid = fork();
    if (pid == -1) fail();
    if (pid == 0) {
      close(p0[1]);
      close(st[0]);
      if (fd_move(0, p0[0]) != -1) {
        for (i = 2; i <= 6; ++i) close(i);
        drop(uidl, gidn);
        execvp(argv[1], argv + 1);
      }
      e = errno;
      if (write(st[1], &e, sizeof e) != sizeof e) fail();
      fail();
    }
    close(p0[0]);
    close(st[1]);
    if (read(st[0], &e, sizeof e) == sizeof e) nologger(argv[1], delivery, e);
    close(st[0]);
    if (fd_move(1, p0[1]) == -1) fail();
  }
  /* from here on fd 1 is the log; keep a copy on 3 for the helpers */
  if (fd_copy(3, 1) == -1) fail();

  for (i = 1; i < 7; ++i) if (pipe(pi[i]) == -1) fail();
  helper(prog(0, "qmail-lspawn"), lspawnargs, 0, gidq, 1, 2);
  helper(prog(1, "qmail-rspawn"), rspawnargs, uidr, gidq, 3, 4);
  helper(prog(2, "qmail-clean"), cleanargs, uidq, gidq, 5, 6);

  drop(uids, gidq);
  if (fd_copy(0, 1) == -1) fail();
  if (fd_copy(1, pi[1][1]) == -1) fail();
  if (fd_copy(2, pi[2][0]) == -1) fail();
  if (fd_copy(3, pi[3][1]) == -1) fail();
  if (fd_copy(4, pi[4][0]) == -1) fail();
  if (fd_copy(5, pi[5][1]) == -1) fail();
  if (fd_copy(6, pi[6][0]) == -1) fail();
  closepipes();
  execv(prog(3, "qmail-send"), sendargs);
  fail();
}
