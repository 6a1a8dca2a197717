/* qmail-sysexits - run a delivery program that reports with sysexits(3)
 * codes (Cyrus deliver, Dovecot's LDA, procmail, maildrop) and exit with
 * the qmail-command(8) code that means the same: 0 delivered, 100 bounce,
 * 111 try again later. Without it qmail counts EX_NOUSER (67), among
 * others, as a temporary failure and retries a dead address for a week.
 * The program shares stdin, stdout and stderr; nothing is parsed. */
#include "fmt.h"
#include "run.h"
#include "say.h"

#define ME "qmail-sysexits: "

struct code {
  int sysexit;
  int qmail;
  const char *text;
};

/* sysexits.h codes: those a retry or the admin can cure are soft, the rest hard */
static const struct code table[] = {
  { 64, 100, "EX_USAGE: command line usage error (#5.3.0)" },
  { 65, 100, "EX_DATAERR: data format error (#5.6.0)" },
  { 66, 100, "EX_NOINPUT: cannot open input (#5.3.0)" },
  { 67, 100, "EX_NOUSER: addressee unknown (#5.1.1)" },
  { 68, 100, "EX_NOHOST: host name unknown (#5.1.2)" },
  { 69, 100, "EX_UNAVAILABLE: service unavailable (#5.3.0)" },
  { 70, 100, "EX_SOFTWARE: internal software error (#5.3.0)" },
  { 71, 111, "EX_OSERR: system error (#4.3.0)" },
  { 72, 100, "EX_OSFILE: critical OS file missing (#5.3.5)" },
  { 73, 100, "EX_CANTCREAT: cannot create output file (#5.2.0)" },
  { 74, 111, "EX_IOERR: input/output error (#4.3.0)" },
  { 75, 111, "EX_TEMPFAIL: temporary failure (#4.3.0)" },
  { 76, 100, "EX_PROTOCOL: remote error in protocol (#5.5.0)" },
  { 77, 100, "EX_NOPERM: permission denied (#5.7.1)" },
  /* Cyrus deliver says 78 when lmtpd is down: mail waits for the admin */
  { 78, 111, "EX_CONFIG: configuration error (#4.3.5)" },
};

int main(int argc, char **argv)
{
  char num[FMT_ULONG];
  size_t i;
  int code;

  if (argc < 2) die(100, ME, "usage: qmail-sysexits program [ arg ... ]\n", NULL);
  code = run_prog(argv + 1);
  /* a missing program is a broken .qmail: keep the mail until it is fixed */
  if (code == -1 || code == RUN_NOEXEC)
    die(111, ME, "unable to run ", argv[1], ": ", say_errno(), " (#4.3.0)\n", NULL);
  if (code == RUN_CRASH) die(111, ME, argv[1], " crashed (#4.3.0)\n", NULL);
  /* qmail's own codes go through as they are */
  if (code == 0 || code == 99 || code == 100 || code == 111) return code;
  for (i = 0; i < sizeof table / sizeof table[0]; ++i)
    if (table[i].sysexit == code) {
      say(2, ME, table[i].text, "\n", NULL);
      return table[i].qmail;
    }
  num[fmt_ulong(num, (unsigned long)code)] = 0;
  say(2, ME, argv[1], " exited ", num, " (#4.3.0)\n", NULL);
  return 111;
}
