/* qmail-popup - the AUTHORIZATION state of a POP3 server (RFC 1939).
 * Runs under tcpserver with the network on fds 0 and 1: greets with an APOP
 * timestamp, takes USER and PASS (or APOP), and hands the name, password and
 * timestamp on fd 3 to a checkpassword-compatible program, which runs
 * qmail-pop3d as the user. A refused login gets -ERR after a delay and the
 * session goes on, up to MAXFAIL tries. Untrusted input: everything on fd 0;
 * lines are capped at POP3_LINE and the fd 3 data at CHECKPW_MAX bytes.
 * The network is never read past the end of a command line, so no byte a
 * client sends after PASS is swallowed here: it is left for qmail-pop3d. */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bio.h"
#include "fmt.h"
#include "pop3.h"
#include "sa.h"
#include "say.h"
#include "scan.h"
#include "sig.h"
#include "str.h"
#include "ucspitls.h"
#include "waitchild.h"

#define FATAL "qmail-popup: fatal: "
#define CHECKPW_MAX 512     /* the checkpassword interface's limit */
#define MAXFAIL 3           /* refused logins before the connection is closed */
#define FAILDELAY 2         /* seconds before a refusal is answered */

static char outbuf[512];
static bio out = BIO_INIT(1, outbuf, sizeof outbuf);
static unsigned intimeout;

static const char *hostname;
static char **childargv;
static sa stamp = SA_ZERO;      /* <pid.time@hostname> */
static sa user = SA_ZERO;       /* name from USER, NUL-terminated */
static int seenuser;
static unsigned failures;
static int tlson, tlsoffer;     /* STLS (RFC 2595) through a UCSPI-TLS helper */

/* network trouble ends the session quietly: nobody is left to tell */
static noreturn void bye(void) { _exit(0); }

static void reply(const char *s)
{
  if (!bio_puts(&out, s) || !bio_puts(&out, "\r\n") || !bio_flush(&out)) bye();
}

static noreturn void die_temp(const char *what)
{
  say(2, FATAL, what, ": ", say_errno(), "\n", NULL);
  reply("-ERR temporary failure, try again later");
  _exit(111);
}

static noreturn void die_nomem(void) { errno = ENOMEM; die_temp("out of memory"); }

static unsigned timeout(void)
{
  unsigned long u;
  const char *s = getenv("POP3_TIMEOUT");
  if (s && scan_ulong(s, &u) && u > 0 && u < 86400) return (unsigned)u;
  return 1200;
}

static void greet(void)
{
  char num[FMT_ULONG];

  if (!sa_copys(&stamp, "<")) die_nomem();
  if (!sa_catb(&stamp, num, fmt_ulong(num, (unsigned long)getpid()))) die_nomem();
  if (!sa_append(&stamp, '.')) die_nomem();
  if (!sa_catb(&stamp, num, fmt_ulong(num, (unsigned long)time(0)))) die_nomem();
  if (!sa_append(&stamp, '@') || !sa_cats(&stamp, hostname) || !sa_append(&stamp, '>'))
    die_nomem();
  if (!bio_puts(&out, "+OK ") || !bio_put(&out, stamp.s, stamp.len)) bye();
  reply("");
}

/* refused - answer a failed login; the session goes on unless it was the last try */
static void refused(const char *text)
{
  sleep(FAILDELAY);
  reply(text);
  if (++failures >= MAXFAIL) bye();
}

/* feed - write name\0 secret\0 stamp\0 to fd; 0 if the checker stopped reading */
static int feed(int fd, const char *name, size_t namelen, const char *secret)
{
  char buf[CHECKPW_MAX];
  size_t n = 0, l;
  int ok;

  l = strlen(secret);
  /* namelen, l and stamp.len are each under POP3_LINE: no overflow */
  if (namelen + 1 + l + 1 + stamp.len + 1 > sizeof buf) { errno = E2BIG; return 0; }
  memcpy(buf, name, namelen); n += namelen; buf[n++] = 0;
  memcpy(buf + n, secret, l); n += l; buf[n++] = 0;
  memcpy(buf + n, stamp.s, stamp.len); n += stamp.len; buf[n++] = 0;
  ok = bio_writeall(fd, buf, n, 0);
  explicit_bzero(buf, sizeof buf);
  return ok;
}

/* login - run the checkpassword program; returns only if the login failed */
static void login(const char *name, size_t namelen, char *secret)
{
  int pi[2], status, code;
  pid_t pid;

  /* the checker reads fd 3, so 3 must be the read end of the pipe */
  if (pipe(pi) == -1) die_temp("unable to make a pipe");
  if (pi[1] == 3) die_temp("unable to make a pipe on fd 3");
  if (pi[0] != 3) {
    if (dup2(pi[0], 3) == -1) die_temp("unable to move the pipe");
    close(pi[0]);
    pi[0] = 3;
  }
  pid = fork();
  if (pid == -1) die_temp("unable to fork");
  if (pid == 0) {
    close(pi[1]);
    sig_default(SIGPIPE);
    execvp(childargv[0], childargv);
    say(2, FATAL, "unable to run ", childargv[0], ": ", say_errno(), "\n", NULL);
    _exit(111);
  }
  close(pi[0]);
  feed(pi[1], name, namelen, secret);   /* a checker that stops early says why by its exit */
  close(pi[1]);
  explicit_bzero(secret, strlen(secret));
  if (wait_pid(pid, &status) == -1) die_temp("unable to wait for the checker");
  code = wait_exitcode(status);
  if (code == 0) _exit(0);      /* qmail-pop3d ran the session to its end */
  if (code == -1) {
    say(2, FATAL, "checkpassword program crashed\n", NULL);
    reply("-ERR aack, child crashed");
    _exit(111);
  }
  if (code == 111) {
    refused("-ERR temporary authorization failure, try again later");
    return;
  }
  refused("-ERR authorization failed");
}

static void do_user(const char *arg)
{
  if (!*arg) { reply("-ERR syntax error"); return; }
  if (!sa_copys(&user, arg) || !sa_0(&user)) die_nomem();
  seenuser = 1;
  reply("+OK ");
}

static void do_pass(char *arg)
{
  if (!seenuser) { reply("-ERR USER first"); return; }
  if (!*arg) { reply("-ERR syntax error"); return; }
  login(user.s, user.len - 1, arg);
  seenuser = 0;                 /* refused: a new try starts with USER */
}

static void do_apop(char *arg)
{
  char *sp = strchr(arg, ' ');
  if (!sp || sp == arg || !sp[1]) { reply("-ERR syntax error"); return; }
  *sp = 0;
  login(arg, (size_t)(sp - arg), sp + 1);
}

static void do_capa(void)
{
  reply(tlsoffer && !tlson ? "+OK capability list follows\r\nTOP\r\nUIDL\r\nUSER\r\nSTLS\r\n."
                           : "+OK capability list follows\r\nTOP\r\nUIDL\r\nUSER\r\n.");
}

/* do_stls - TLS from here on; the login starts over. The network is read
 * exactly to the end of each line, so no cleartext byte the client sent
 * after STLS is ever taken for a command: it reaches the handshake. */
static void do_stls(void)
{
  char info[UCSPITLS_INFO];
  if (tlson) { reply("-ERR TLS is already on"); return; }
  if (!tlsoffer) { reply("-ERR STLS not available"); return; }
  reply("+OK begin TLS");
  if (!ucspitls_start(intimeout, info, sizeof info)) _exit(111);
  tlson = 1;
  seenuser = 0;
}

int main(int argc, char **argv)
{
  static pop3cmd c = POP3CMD_ZERO;
  char *arg;
  int r;

  sig_ignore(SIGPIPE);
  if (argc < 3 || !argv[1][0]) {
    reply("-ERR usage: qmail-popup hostname subprogram");
    die(100, "qmail-popup: usage: qmail-popup hostname subprogram ...\n", NULL);
  }
  hostname = argv[1];
  childargv = argv + 2;
  intimeout = out.timeout = timeout();
  tlson = getenv("SSL_PROTOCOL") != 0;          /* ucspi-tlsd -i: POP3S */
  tlsoffer = ucspitls_available();

  greet();
  for (;;) {
    r = pop3_getcmd_exact(0, intimeout, &c);
    if (r == POP3_EOF || r == POP3_ERR) bye();
    if (r == POP3_LONG) { reply("-ERR line too long"); continue; }
    if (r == POP3_BAD) { reply("-ERR syntax error"); continue; }
    arg = (char *)c.arg;
    if (str_equal(c.verb, "user")) do_user(arg);
    else if (str_equal(c.verb, "pass")) do_pass(arg);
    else if (str_equal(c.verb, "apop")) do_apop(arg);
    else if (str_equal(c.verb, "quit")) { reply("+OK "); bye(); }
    else if (str_equal(c.verb, "noop")) reply("+OK ");
    else if (str_equal(c.verb, "capa")) do_capa();
    else if (str_equal(c.verb, "stls")) do_stls();
    else reply("-ERR authorization first");
    explicit_bzero(c.line.s, c.line.a);     /* a password may have passed through */
  }
}
