/* qmail-local-deliver - maildir, program and forward deliveries. */
#include <errno.h>
#include <signal.h>
#include <unistd.h>

#include "bio.h"
#include "fmt.h"
#include "say.h"
#include "sig.h"
#include "waitchild.h"
#include "maildir.h"
#include "qmail.h"
#include "qmail-local.h"

static void maildir_timeout(int sig)
{
  static const char msg[] = "Timeout on maildir delivery. (#4.3.0)\n";
  (void)sig;
  if (write(2, msg, sizeof msg - 1)) {}
  _exit(111);
}

void ql_maildir(const char *dir, const char *head, size_t hlen)
{
  int r;

  ql_rewind();
  /* maildir(5): a delivery that takes a day is abandoned */
  sig_catch(SIGALRM, maildir_timeout);
  alarm(86400);
  r = maildir_deliver(dir, head, hlen, 0);
  alarm(0);
  sig_default(SIGALRM);
  switch (r) {
    case MAILDIR_OK: return;
    case MAILDIR_EDIR:
      die(111, "Unable to open maildir ", dir, ": ", say_errno(), ". (#4.2.1)\n", NULL);
    case MAILDIR_EREAD: ql_die_read();
    case MAILDIR_ENOMEM: ql_die_nomem();
  }
  die(111, "Temporary error on maildir delivery to ", dir, ": ", maildir_errstr(r),
      ": ", say_errno(), ". (#4.3.0)\n", NULL);
}

int ql_program(const char *cmd)
{
  char *args[4];
  pid_t pid;
  int status;

  ql_rewind();
  pid = fork();
  if (pid == -1) ql_die_fork();
  if (pid == 0) {
    /* the command and the environment go to sh untouched; nothing here
     * ever parses or evaluates them */
    args[0] = (char *)"/bin/sh"; args[1] = (char *)"-c"; args[2] = (char *)cmd; args[3] = 0;
    sig_default(SIGPIPE);
    sig_default(SIGXFSZ);
    execv(args[0], args);
    die(111, "Unable to run /bin/sh: ", say_errno(), ". (#4.3.0)\n", NULL);
  }
  if (wait_pid(pid, &status) == -1)
    die(111, "Unable to wait for program: ", say_errno(), ". (#4.3.0)\n", NULL);
  if (!WIFEXITED(status)) {
    char n[FMT_ULONG];
    n[fmt_ulong(n, WIFSIGNALED(status) ? (unsigned long)WTERMSIG(status) : 0)] = 0;
    die(111, "Aack, child crashed: killed by signal ", n, ". (#4.3.0)\n", NULL);
  }
  switch (WEXITSTATUS(status)) {
    case 0: return 0;
    case 99: return 1;
    case 100: case 64: case 65: case 70: case 76: case 77: case 78: case 112:
      _exit(100);
    default:
      _exit(111);
  }
}

unsigned long ql_forward(const char *sender, char *const *recips, size_t n,
                         const char *head, size_t hlen)
{
  static qmail qq;
  unsigned long qp;
  const char *x;
  size_t i;

  ql_rewind();
  if (qmail_open(&qq) == -1) ql_die_fork();
  qp = qmail_qp(&qq);
  /* forwards carry our Delivered-To line, so a loop comes back to us */
  qmail_put(&qq, head, hlen);
  qmail_copyfd(&qq, 0);
  qmail_from(&qq, sender);
  for (i = 0; i < n; ++i) qmail_to(&qq, recips[i]);
  x = qmail_close(&qq);
  if (*x) die(*x == 'D' ? 100 : 111, "Unable to forward message: ", x + 1, "\n", NULL);
  return qp;
}
