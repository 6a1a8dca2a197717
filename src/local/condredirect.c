/* condredirect - run a program; if it exits 0, forward the message to
 * newaddress and exit 99 so the rest of .qmail is skipped
 * (condredirect(1)). 111 defers; anything else goes on with .qmail.
 * The forward has sender $NEWSENDER and $DTLINE on top; fd 0 must be
 * seekable, as qmail-local gives it. */
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include "bio.h"
#include "fmt.h"
#include "run.h"
#include "say.h"
#include "sig.h"
#include "qmail.h"

#define FATAL "condredirect: fatal: "

static qmail qq;

int main(int argc, char **argv)
{
  char num[FMT_ULONG];
  const char *sender, *dtline, *x;
  int code;

  sig_ignore(SIGPIPE);
  if (argc < 3) die(100, "condredirect: usage: condredirect newaddress program [ arg ... ]\n", NULL);
  sender = getenv("NEWSENDER");
  if (!sender) die(100, FATAL, "NEWSENDER not set\n", NULL);
  dtline = getenv("DTLINE");
  if (!dtline) die(100, FATAL, "DTLINE not set\n", NULL);

  code = run_prog(argv + 2);
  if (code == -1) die(111, FATAL, "unable to run ", argv[2], ": ", say_errno(), "\n", NULL);
  if (code == RUN_CRASH) die(111, FATAL, argv[2], " crashed\n", NULL);
  if (code == 111) return 111;
  if (code != 0) return 0;

  if (lseek(0, 0, SEEK_SET) == -1) die(111, FATAL, "unable to rewind message: ", say_errno(), "\n", NULL);
  if (qmail_open(&qq) == -1) die(111, FATAL, "unable to fork: ", say_errno(), "\n", NULL);
  num[fmt_ulong(num, qmail_qp(&qq))] = 0;
  qmail_puts(&qq, dtline);
  qmail_copyfd(&qq, 0);
  qmail_from(&qq, sender);
  qmail_to(&qq, argv[1]);
  x = qmail_close(&qq);
  if (*x) die(*x == 'D' ? 100 : 111, FATAL, x + 1, "\n", NULL);
  say(1, "condredirect: qp ", num, "\n", NULL);
  return 99;
}
