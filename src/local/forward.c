/* forward - forward the message on fd 0 to the given addresses through
 * qmail-queue ($QMAILQUEUE honoured), with envelope sender $NEWSENDER and
 * $DTLINE on top, as a .qmail forward line would (forward(1)). */
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include "bio.h"
#include "fmt.h"
#include "say.h"
#include "sig.h"
#include "qmail.h"

#define FATAL "forward: fatal: "

static qmail qq;

int main(int argc, char **argv)
{
  char num[FMT_ULONG];
  const char *sender, *dtline, *x;
  int i;

  sig_ignore(SIGPIPE);
  if (argc < 2) die(100, "forward: usage: forward address [ address ... ]\n", NULL);
  sender = getenv("NEWSENDER");
  if (!sender) die(100, FATAL, "NEWSENDER not set\n", NULL);
  dtline = getenv("DTLINE");
  if (!dtline) die(100, FATAL, "DTLINE not set\n", NULL);

  if (qmail_open(&qq) == -1) die(111, FATAL, "unable to fork: ", say_errno(), "\n", NULL);
  num[fmt_ulong(num, qmail_qp(&qq))] = 0;
  qmail_puts(&qq, dtline);
  qmail_copyfd(&qq, 0);
  qmail_from(&qq, sender);
  for (i = 1; i < argc; ++i) qmail_to(&qq, argv[i]);
  x = qmail_close(&qq);
  if (*x) die(*x == 'D' ? 100 : 111, FATAL, x + 1, "\n", NULL);
  say(1, "forward: qp ", num, "\n", NULL);
  return 0;
}
