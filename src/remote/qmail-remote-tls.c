/* STARTTLS for qmail-remote through ucspi-tlsd -c, so that qmail-remote
 * links no TLS library. control/tlsdestinations names the domains whose
 * mail must go over TLS with a verified certificate (one a line, ".suffix"
 * for every domain below it, as in smtproutes; anything from a colon on is
 * ignored); control/tlsca is the CA
 * file to verify against (default: the system's CA store). Everybody else
 * gets TLS whenever the peer offers it, and cleartext when it does not. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "qmail-remote.h"
#include "auto.h"
#include "bio.h"
#include "control.h"
#include "str.h"
#include "ucspitls.h"

static sa dests = SA_ZERO, cafile = SA_ZERO;
static char tlsinfo[UCSPITLS_INFO + 100];
static char why[200];

/* tls_controls - 2 when mail for domain needs verified TLS, else 1 */
int tls_controls(const char *domain)
{
  size_t dl = strlen(domain), k, n;
  if (control_readfile(&dests, "control/tlsdestinations") == -1) return -1;
  if (control_rldef(&cafile, "control/tlsca", 0) == -1) return -1;
  if (cafile.len && !sa_0(&cafile)) return -1;
  for (k = 0; k < dests.len; k += n + 1) {
    const char *d = dests.s + k;
    size_t m;
    n = strlen(d);
    m = byte_chr(d, n, ':');      /* s/qmail's fields after the domain: not ours */
    if (m == dl && !case_diffb(d, m, domain)) return 2;
    if (m && d[0] == '.' && m < dl && !case_diffb(d, m, domain + dl - m)) return 2;
  }
  return 1;
}

const char *tls_info(void) { return tlsinfo[0] ? tlsinfo : 0; }
const char *tls_why(void) { return why; }

static void safecpy(char *to, size_t size, const char *s, size_t n)
{
  size_t i;
  for (i = 0; i < n && i < size - 1; ++i) to[i] = (s[i] < 32 || s[i] > 126) ? '?' : s[i];
  to[i] = 0;
}

static int high(int fd)
{
  int h = fcntl(fd, F_DUPFD_CLOEXEC, 10);
  return h;
}

/* tls_start - run ucspi-tlsd -c on the socket fd; on success *rfd and *wfd
 * are the cleartext pipes and tls_info() says what we got. 0 on failure,
 * the reason in tls_why(). */
int tls_start(int fd, const struct smtpjob *j, int *rfd, int *wfd)
{
  int in[2], outp[2], rep[2];
  char buf[UCSPITLS_REPORT], dot[300];
  const char *argv[16];
  size_t n = 0, l;
  const char *p, *c, *v, *e;
  char helper[400];
  int a = 0;
  ssize_t r;
  pid_t pid;

  why[0] = 0;
  if (pipe2(in, O_CLOEXEC) == -1 || pipe2(outp, O_CLOEXEC) == -1 || pipe2(rep, O_CLOEXEC) == -1) {
    safecpy(why, sizeof why, "unable to make pipes", 20);
    return 0;
  }
  l = strlen(auto_home);
  if (l + 20 > sizeof helper) return 0;
  memcpy(helper, auto_home, l);
  memcpy(helper + l, "/bin/ucspi-tlsd", 16);
  argv[a++] = "ucspi-tlsd";
  argv[a++] = "-c";
  if (cafile.len) { argv[a++] = "-C"; argv[a++] = cafile.s; }
  if (j->tls == 2) argv[a++] = "-V";
  argv[a++] = "-n"; argv[a++] = j->domain;
  l = strlen(j->domain);
  if (l + 2 <= sizeof dot) {
    dot[0] = '.'; memcpy(dot + 1, j->domain, l + 1);
    argv[a++] = "-n"; argv[a++] = dot;
  }
  if (j->relay) { argv[a++] = "-n"; argv[a++] = j->relay; }
  argv[a] = 0;

  pid = fork();
  if (pid == -1) { safecpy(why, sizeof why, "unable to fork", 14); return 0; }
  if (pid == 0) {
    /* out of the way of 0, 1, 3, 6 and 7 first, then into place */
    int s = high(fd), i0 = high(in[0]), o1 = high(outp[1]), r1 = high(rep[1]);
    if (s == -1 || i0 == -1 || o1 == -1 || r1 == -1) _exit(111);
    if (dup2(i0, 0) == -1 || dup2(o1, 1) == -1 || dup2(r1, 3) == -1 || dup2(s, 6) == -1 || dup2(s, 7) == -1) _exit(111);
    signal(SIGPIPE, SIG_DFL);
    execv(helper, (char **)argv);
    _exit(111);
  }
  close(in[0]); close(outp[1]); close(rep[1]);
  for (;;) {
    r = bio_rawread(rep[0], buf + n, sizeof buf - n, j->timeout);
    if (r <= 0) break;
    n += (size_t)r;
    if (n >= 2 && !buf[n - 1] && !buf[n - 2]) break;
    if (n == sizeof buf) break;
  }
  close(rep[0]);
  p = ucspitls_var(buf, n, "SSL_PROTOCOL=", &l);
  if (!p) {
    e = ucspitls_var(buf, n, "SSL_ERROR=", &l);
    if (e) safecpy(why, sizeof why, e, l);
    else safecpy(why, sizeof why, "the TLS helper failed", 21);
    close(in[1]); close(outp[0]);
    kill(pid, SIGTERM);
    return 0;
  }
  {
    size_t np = l, nc = 0, nv = 0, ne = 0, k;
    char info[UCSPITLS_INFO];
    c = ucspitls_var(buf, n, "SSL_CIPHER=", &nc);
    v = ucspitls_var(buf, n, "SSL_VERIFIED=", &nv);
    e = ucspitls_var(buf, n, "SSL_VERIFY_ERROR=", &ne);
    ucspitls_info(info, sizeof info, p, np, c ? c : "unknown", c ? nc : 7);
    k = strlen(info);
    memcpy(tlsinfo, info, k);
    if (v && nv == 3 && !memcmp(v, "yes", 3)) memcpy(tlsinfo + k, ", certificate verified", 23);
    else {
      memcpy(tlsinfo + k, ", certificate not verified: ", 28);
      k += 28;
      safecpy(tlsinfo + k, sizeof tlsinfo - k, e ? e : "unknown", e ? ne : 7);
    }
  }
  *wfd = in[1];
  *rfd = outp[0];
  return 1;
}
