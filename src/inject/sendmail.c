/* sendmail - the sendmail command line, translated for qmail-inject.
 * Options are read like getopt: clustered flags, arguments attached or
 * separate, "--" or the first non-option ends them. Then it execs
 * bin/qmail-inject (-H with -t, else -a), bin/qmail-qread (-bp, mailq) or
 * bin/qmail-smtpd (-bs). See man/sendmail.8. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "say.h"
#include "str.h"
#include "sa.h"
#include "auto.h"

#define FATAL "sendmail: fatal: "

static noreturn void die_usage(void)
{
  die(100, "sendmail: usage: sendmail [ -t ] [ -fsender ] [ -Fname ] [ -bp ] [ -bs ] [ arg ... ]\n",
      NULL);
}

static noreturn void die_nomem(void) { die(111, FATAL, "out of memory\n", NULL); }

/* newaliases - nothing to rebuild: say where aliases live, and succeed,
 * so package scripts that run newaliases after an install go on */
static noreturn void newaliases(void)
{
  say(1, "newaliases: qmail keeps no aliases database, so there is nothing to rebuild:\n"
      "an alias NAME is the file ", auto_home, "/alias/.qmail-NAME, read at each delivery\n"
      "(qmail-migrate(7) turns /etc/aliases into such files)\n", NULL);
  _exit(0);
}

static void setenvvar(const char *k, const char *v)
{
  if (setenv(k, v, 1) == -1) die_nomem();
}

/* run - exec a program of the home; a missing program is a permanent
 * problem of the installation, anything else temporary */
static noreturn void run(char **args)
{
  int e;
  execv(args[0], args);
  e = errno;
  die(e == ENOENT ? 100 : 111, FATAL, "unable to run ", auto_home, "/", args[0], ": ",
      say_errno(), "\n", NULL);
}

static noreturn void mailq(void)
{
  char *args[] = { "bin/qmail-qread", 0 };
  run(args);
}

/* smtpd - an SMTP session on stdin/stdout, trusted like a local relay
 * client unless we already run under a TCP server */
static noreturn void smtpd(void)
{
  char *args[] = { "bin/qmail-smtpd", 0 };
  if (!getenv("PROTO")) {
    setenvvar("RELAYCLIENT", "");
    setenvvar("DATABYTES", "0");
    setenvvar("PROTO", "TCP");
    setenvvar("TCPLOCALIP", "127.0.0.1");
    setenvvar("TCPLOCALHOST", "localhost");
    setenvvar("TCPREMOTEIP", "127.0.0.1");
    setenvvar("TCPREMOTEHOST", "localhost");
    setenvvar("TCPREMOTEINFO", "sendmail-bs");
  }
  run(args);
}

/* sender_env - the From field follows an explicit envelope sender */
static void sender_env(const char *s)
{
  const char *at = strrchr(s, '@');
  size_t n = strlen(s);

  if (!n || str_equal(s, "<>")) return;
  unsetenv("QMAILNAME");
  unsetenv("MAILNAME");
  unsetenv("NAME");
  unsetenv("QMAILHOST");
  unsetenv("MAILHOST");
  if (!at) { setenvvar("QMAILUSER", s); return; }
  {
    char *user = malloc((size_t)(at - s) + 1);
    if (!user) die_nomem();
    memcpy(user, s, (size_t)(at - s));
    user[at - s] = 0;
    setenvvar("QMAILUSER", user);
    setenvvar("QMAILHOST", at + 1);
    free(user);
  }
}

/* the options that matter to qmail-inject */
static int flagt;
static const char *sender, *fullname;

/* options - read the sendmail options; returns the index of the first
 * recipient. -bp, -bs, -bi and -q end here by running something else. */
static int options(int argc, char **argv)
{
  int i;

  for (i = 1; i < argc && argv[i][0] == '-' && argv[i][1]; ++i) {
    const char *o = argv[i] + 1;
    if (str_equal(argv[i], "--")) { ++i; break; }
    for (; *o; ++o) {
      const char *arg;
      switch (*o) {
        case 't': flagt = 1; continue;
        case 'i': case 'v': case 'm': case 'x': continue;
        case 'E': case 'J':   /* an optional attached argument, ignored */
          o += strlen(o) - 1;
          continue;
        case 'q':
          say(2, "sendmail: note: qmail-send works through the queue by itself; "
                 "nothing to do\n", NULL);
          _exit(0);
        case 'B': case 'F': case 'b': case 'e': case 'f': case 'o': case 'p': case 'r':
          break;
        default:
          die_usage();
      }
      if (o[1]) arg = o + 1;
      else if (++i < argc) arg = argv[i];
      else die_usage();
      switch (*o) {
        case 'f': case 'r': sender = arg; break;
        case 'F': fullname = arg; break;
        case 'b':
          switch (arg[0]) {
            case 'm': break;
            case 'p': mailq();
            case 's': smtpd();
            case 'i': newaliases();
            default: die_usage();
          }
          break;
        default: break;   /* -B -e -o -p: nothing to do under qmail */
      }
      break;   /* the argument used up the rest of this word */
    }
  }
  return i;
}

/* inject - exec qmail-inject for the recipients rcpt[0..n) */
static noreturn void inject(char **rcpt, size_t n)
{
  char **args;
  size_t k, i, want;

  if (!size_add(&want, n, 6)) die_nomem();
  args = calloc(want, sizeof *args);
  if (!args) die_nomem();
  k = 0;
  args[k++] = "bin/qmail-inject";
  args[k++] = flagt ? "-H" : "-a";
  if (sender) {
    args[k++] = "-f";
    args[k++] = (char *)sender;
  }
  args[k++] = "--";
  for (i = 0; i < n; ++i) args[k++] = rcpt[i];
  args[k] = 0;
  execv(args[0], args);
  die(111, FATAL, "unable to run ", auto_home, "/bin/qmail-inject: ", say_errno(), "\n",
      NULL);
}

int main(int argc, char **argv)
{
  const char *prog = argc ? argv[0] : "sendmail";
  const char *slash = strrchr(prog, '/');
  int i;

  if (slash) prog = slash + 1;
  if (chdir(auto_home) == -1)
    die(111, FATAL, "unable to switch to ", auto_home, ": ", say_errno(), "\n", NULL);
  if (str_equal(prog, "mailq")) mailq();
  if (str_equal(prog, "newaliases")) newaliases();

  i = options(argc, argv);
  if (!flagt && i >= argc) {
    say(2, "sendmail: fatal: no recipients given (use -t to take them from the header)\n",
        NULL);
    die_usage();
  }
  if (sender) sender_env(sender);
  if (fullname) setenvvar("QMAILNAME", fullname);
  inject(argv + i, (size_t)(argc - i));
}
