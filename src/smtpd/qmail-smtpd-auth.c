/* qmail-smtpd-auth - SMTP AUTH (RFC 4954) with PLAIN (RFC 4616) and LOGIN.
 * qmail-smtpd checkpassword subprogram... hands "user\0password\0\0" on
 * fd 3 to the checkpassword-compatible program named on its command line
 * (qmail-popup(8) does the same) and takes exit 0 as a good login.
 * AUTH is offered only when TLS is on (smtpd_tls: under ucspi-tlsd -i, or
 * after STARTTLS, qmail-smtpd-tls.c) or when the environment has
 * AUTHCLEARTEXT (set by tcprules for a trusted network). AUTHREQUIRED
 * (submission, RFC 6409) makes MAIL before AUTH a 530.
 * Untrusted input: the AUTH argument and the continuation lines, each at
 * most RESPMAX bytes; decoded, name and password fit CHECKPW_MAX. The
 * password lives only in local buffers and the pipe, each wiped after use,
 * and never reaches a log or a command line. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "qmail-smtpd.h"
#include "base64.h"
#include "say.h"
#include "sig.h"
#include "str.h"
#include "waitchild.h"

#define CHECKPW_MAX 512     /* the checkpassword interface's limit on fd 3 */
#define RESPMAX 1024        /* one base64 line from the client, without CR LF */
#define FAILDELAY 2         /* seconds before a refusal is answered */
#define MAXFAIL 3           /* refused logins before the session is closed */
#define CHECKTIME 60        /* seconds the checker may take */

static char **checker;      /* 0: AUTH is not offered */
static int cleartext, required;
static sa user = SA_ZERO;   /* the authenticated name, NUL-terminated */
static int authed;
static unsigned failures;

void auth_init(int argc, char **argv)
{
  if (argc > 1) checker = argv + 1;
  cleartext = getenv("AUTHCLEARTEXT") != 0;
  required = getenv("AUTHREQUIRED") != 0;
}

static int tlson(void) { return smtpd_tls != 0; }

const char *auth_user(void) { return authed ? user.s : 0; }

static int offered(void) { return checker && !authed && (tlson() || cleartext); }

void auth_ehlo(void)
{
  if (offered()) out("250-AUTH PLAIN LOGIN\r\n");
}

int auth_mailok(void)
{
  if (!required || authed) return 1;
  out(checker && (tlson() || cleartext) ? "530 authentication required (#5.7.0)\r\n"
                                       : "530 must issue STARTTLS first (#5.7.0)\r\n");
  return 0;
}

void auth_reset(void)
{
  authed = 0;
  if (user.s) explicit_bzero(user.s, user.a);
  user.len = 0;
}

/* decode - a client's base64 s[0..n) into out (room for CHECKPW_MAX);
 * its length, -1 after the 501 for bad base64, -2 after the 501 for "*" */
static ssize_t decode(char *dst, const char *s, size_t n)
{
  size_t len;
  if (n == 1 && s[0] == '*') { out("501 authentication cancelled (#5.0.0)\r\n"); return -2; }
  if (n == 1 && s[0] == '=') return 0;            /* an empty initial response */
  if (n / 4 * 3 > CHECKPW_MAX || !base64_decode(dst, &len, s, n)) {
    out("501 malformed authentication data (#5.5.2)\r\n");
    return -1;
  }
  return (ssize_t)len;
}

/* ask - send a 334 challenge and decode the answer into out */
static ssize_t ask(const char *challenge, char *dst)
{
  char line[RESPMAX + 2];
  ssize_t r;

  out("334 "); out(challenge); out("\r\n");
  r = smtpd_getline(line, RESPMAX, 1);
  if (r < 0) { out("501 authentication line too long (#5.5.2)\r\n"); return -1; }
  r = decode(dst, line, (size_t)r);
  explicit_bzero(line, sizeof line);
  return r;
}

/* safename - name with every byte outside [A-Za-z0-9] and ".@%+-_=" as
 * '?', cut to fit buf: for logs and the Received line */
static const char *safename(char *buf, size_t size, const char *name)
{
  size_t i;
  for (i = 0; name[i] && i + 1 < size; ++i) {
    unsigned char c = (unsigned char)name[i];
    int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
    buf[i] = ok || strchr(".@%+-_=", c) ? (char)c : '?';
  }
  buf[i] = 0;
  return buf;
}

/* logline - one line on fd 2 (the service's log): what, the name, the peer */
static void logline(const char *what, const char *name)
{
  char buf[256];
  const char *ip = getenv("TCPREMOTEIP");
  say(2, "qmail-smtpd: ", what, " ", safename(buf, sizeof buf, name),
      " from ", ip ? ip : "unknown", "\n", NULL);
}

int auth_proto(sa *proto)
{
  char buf[256];
  if (!authed) return 1;
  if (tlson()) {
    if (!sa_copys(proto, "ESMTPSA (") || !sa_cats(proto, smtpd_tls) || !sa_cats(proto, ")"))
      return 0;
  }
  else if (!sa_copys(proto, "ESMTPA")) return 0;
  return sa_cats(proto, " (authenticated user ")
      && sa_cats(proto, safename(buf, sizeof buf, user.s))
      && sa_cats(proto, ")");
}

/* check - run the checker with name and pass on fd 3: its exit code, or
 * -1 when it could not run or crashed */
static int check(const char *name, size_t namelen, const char *pass, size_t passlen)
{
  char buf[CHECKPW_MAX];
  int pi[2], status, fd;
  size_t n;
  pid_t pid;

  if (namelen + passlen + 3 > sizeof buf) return 1;      /* too long to be anyone */
  if (pipe(pi) == -1) return -1;
  pid = fork();
  if (pid == -1) { close(pi[0]); close(pi[1]); return -1; }
  if (pid == 0) {
    /* the checker never sees the network: 0 and 1 become /dev/null */
    close(pi[1]);
    fd = open("/dev/null", O_RDWR);
    if (fd == -1 || dup2(fd, 0) == -1 || dup2(fd, 1) == -1) _exit(111);
    if (pi[0] != 3) { if (dup2(pi[0], 3) == -1) _exit(111); close(pi[0]); }
    sig_default(SIGPIPE);
    alarm(CHECKTIME);                   /* survives exec: a stuck checker dies */
    execvp(checker[0], checker);
    say(2, "qmail-smtpd: unable to run ", checker[0], ": ", say_errno(), "\n", NULL);
    _exit(111);
  }
  close(pi[0]);
  memcpy(buf, name, namelen); n = namelen; buf[n++] = 0;
  memcpy(buf + n, pass, passlen); n += passlen; buf[n++] = 0;
  buf[n++] = 0;                         /* no timestamp: PLAIN and LOGIN have none */
  sig_ignore(SIGPIPE);
  bio_writeall(pi[1], buf, n, 0);       /* a checker that stops early says why by its exit */
  explicit_bzero(buf, sizeof buf);
  close(pi[1]);
  if (wait_pid(pid, &status) == -1) return -1;
  return wait_exitcode(status);
}

/* login - check name/pass and answer */
static void login(const char *name, size_t namelen, const char *pass, size_t passlen)
{
  int code;

  if (!namelen || memchr(name, 0, namelen) || memchr(pass, 0, passlen)) {
    out("501 malformed authentication data (#5.5.2)\r\n");
    return;
  }
  if (!sa_copyb(&user, name, namelen) || !sa_0(&user)) die_nomem();
  code = passlen ? check(name, namelen, pass, passlen) : 1;
  if (code == 0) {
    authed = 1;
    logline("AUTH accepted for", user.s);
    out("235 ok, go ahead (#2.7.0)\r\n");
    return;
  }
  logline(code == 111 || code == -1 ? "AUTH temporary failure for" : "AUTH refused for", user.s);
  auth_reset();
  if (code == 111 || code == -1) {
    out("454 temporary authentication failure (#4.7.0)\r\n");
    return;
  }
  sleep(FAILDELAY);
  if (++failures >= MAXFAIL) {
    out("421 too many authentication failures (#4.7.0)\r\n");
    smtpd_close();
  }
  out("535 authentication failed (#5.7.8)\r\n");
}

/* plain - RFC 4616: [authzid] NUL authcid NUL passwd; an authzid other
 * than the authcid would be acting for someone else: refused */
static void plain(const char *resp, size_t n)
{
  size_t a, b;
  a = byte_chr(resp, n, 0);
  if (a == n) { out("501 malformed authentication data (#5.5.2)\r\n"); return; }
  b = a + 1 + byte_chr(resp + a + 1, n - a - 1, 0);
  if (b == n) { out("501 malformed authentication data (#5.5.2)\r\n"); return; }
  if (a && (a != b - a - 1 || memcmp(resp, resp + a + 1, a))) {
    sleep(FAILDELAY);
    out("535 authentication failed (#5.7.8)\r\n");
    return;
  }
  login(resp + a + 1, b - a - 1, resp + b + 1, n - b - 1);
}

void smtp_auth(const char *arg, size_t len)
{
  char resp[CHECKPW_MAX], name[CHECKPW_MAX];
  size_t m, namelen;
  ssize_t r;

  if (!checker || !(tlson() || cleartext)) {
    out(checker ? "538 encryption required for requested authentication mechanism (#5.7.11)\r\n"
                : "502 unimplemented (#5.5.1)\r\n");
    goto wipe;
  }
  if (authed) { out("503 you are already authenticated (#5.5.1)\r\n"); goto wipe; }
  m = byte_chr(arg, len, ' ');
  if (m == 5 && !case_diffb(arg, 5, "plain")) {
    if (m < len) r = decode(resp, arg + m + 1, len - m - 1);
    else r = ask("", resp);
    if (r >= 0) plain(resp, (size_t)r);
  }
  else if (m == 5 && !case_diffb(arg, 5, "login")) {
    if (m < len) r = decode(name, arg + m + 1, len - m - 1);
    else r = ask("VXNlcm5hbWU6", name);                /* "Username:" */
    if (r < 0) goto wipe;
    namelen = (size_t)r;
    r = ask("UGFzc3dvcmQ6", resp);                     /* "Password:" */
    if (r >= 0) login(name, namelen, resp, (size_t)r);
  }
  else if (!m) out("501 syntax: AUTH mechanism [initial-response] (#5.5.4)\r\n");
  else out("504 unrecognized authentication type (#5.5.4)\r\n");
wipe:
  explicit_bzero(resp, sizeof resp);
  explicit_bzero(name, sizeof name);
  /* the command line held the initial response: the buffer is serve()'s own */
  explicit_bzero((char *)arg, len);
}
