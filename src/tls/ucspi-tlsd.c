/* ucspi-tlsd - TLS for a program run by tcpserver, the UCSPI-TLS way.
 * Usage: ucspi-tlsd [-i] [-h secs] [-t secs] prog...   (server)
 *        ucspi-tlsd -c [-C cafile] [-V] [-n name]... [-h secs] [-t secs]
 * The server reads CERTFILE and KEYFILE, drops root if it has it, then
 * runs prog. Without -i prog gets SSLCTLFD, SSLREADFD and SSLWRITEFD and
 * starts TLS by writing Y (or y) on the control descriptor; with -i the
 * handshake comes first and prog sees the cleartext on fd 0 and 1.
 * The only program of the suite that links libssl (ucspi-tlsd(8)). */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <openssl/ssl.h>

#include "ucspi-tlsd.h"
#include "fd.h"
#include "fmt.h"
#include "say.h"
#include "scan.h"
#include "sig.h"

const char *tls_prog = "ucspi-tlsd";

static noreturn void usage(void)
{
  die(100, "ucspi-tlsd: usage: ucspi-tlsd [-i] [-h secs] [-t secs] prog...\n"
           "       ucspi-tlsd -c [-C cafile] [-V] [-n name]... [-h secs] [-t secs]\n", (char *)0);
}

static noreturn void die_sys(const char *what) { die(111, "ucspi-tlsd: fatal: unable to ", what, ": ", say_errno(), "\n", (char *)0); }

/* loadfile - check that the file named in $var can be read by us now, so
 * the message names the file and the errno, not an OpenSSL code */
static const char *loadfile(const char *var)
{
  const char *fn = getenv(var);
  int fd;
  if (!fn || !*fn) die(111, "ucspi-tlsd: fatal: ", var, " is not set\n", (char *)0);
  fd = open(fn, O_RDONLY | O_CLOEXEC);
  if (fd == -1) die(111, "ucspi-tlsd: fatal: unable to read ", var, " ", fn, ": ", say_errno(), "\n", (char *)0);
  close(fd);
  return fn;
}

static SSL_CTX *server_ctx(void)
{
  SSL_CTX *ctx = tls_ctx(1);
  const char *cert = loadfile("CERTFILE"), *key = loadfile("KEYFILE");
  if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1) tls_die("unable to load the certificate chain in CERTFILE ", cert);
  if (SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1) tls_die("unable to load the key in KEYFILE ", key);
  if (SSL_CTX_check_private_key(ctx) != 1) tls_die("KEYFILE does not match CERTFILE", "");
  return ctx;
}

static unsigned long idvar(const char *a, const char *b)
{
  const char *x = getenv(a);
  unsigned long u;
  if (!x) x = getenv(b);
  if (!x || !*x || scan_ulong(x, &u) != strlen(x))
    die(111, "ucspi-tlsd: fatal: running as root, but neither ", a, " nor ", b, " names the account to run as\n", (char *)0);
  return u;
}

/* drop - the key is in memory now; as root, become $TLS_UID/$TLS_GID or
 * $UID/$GID (envuidgid's names) for good, before any network input */
static void drop(void)
{
  unsigned long uid, gid;
  gid_t g;
  if (geteuid() != 0) return;
  uid = idvar("TLS_UID", "UID");
  gid = idvar("TLS_GID", "GID");
  if (!uid) die(111, "ucspi-tlsd: fatal: will not run as root\n", (char *)0);
  g = (gid_t)gid;
  if (setgroups(1, &g) == -1 || setgid(g) == -1 || setuid((uid_t)uid) == -1) die_sys("drop privileges");
  if (getuid() == 0 || geteuid() == 0 || getegid() != g) die(111, "ucspi-tlsd: fatal: privileges were not dropped\n", (char *)0);
}

static void setnum(const char *var, int fd)
{
  char num[FMT_ULONG];
  num[fmt_ulong(num, (unsigned long)fd)] = 0;
  if (setenv(var, num, 1) == -1) die_sys("set the environment");
}

/* the application's view: one pipe each way, made close-on-exec on our
 * side so nothing else holds them open */
static int toprog[2], fromprog[2];

static void pipes(void)
{
  if (pipe2(toprog, O_CLOEXEC) == -1 || pipe2(fromprog, O_CLOEXEC) == -1) die_sys("make pipes");
}

static noreturn void runprog(char **prog)
{
  unsetenv("CERTFILE"); unsetenv("KEYFILE"); unsetenv("TLS_UID"); unsetenv("TLS_GID");
  execvp(prog[0], prog);
  die(111, "ucspi-tlsd: fatal: unable to run ", prog[0], ": ", say_errno(), "\n", (char *)0);
}

static unsigned hsecs = 30, idle = 1200;

static noreturn void handshake_failed(const char *why)
{
  die(111, "ucspi-tlsd: TLS handshake failed: ", why ? why : tls_reason(), "\n", (char *)0);
}

/* immediate - -i: handshake, then prog on the cleartext pipes */
static noreturn void immediate(SSL_CTX *ctx, char **prog)
{
  SSL *ssl = SSL_new(ctx);
  char env[512];
  const char *why;
  size_t n;

  if (!ssl) tls_die("unable to start TLS", "");
  SSL_set_accept_state(ssl);
  if (!tls_handshake(ssl, 0, 1, hsecs, &why)) handshake_failed(why);
  n = tls_env(ssl, env, sizeof env);
  pipes();
  switch (fork()) {
    case -1: die_sys("fork");
    case 0:
      close(toprog[0]); close(fromprog[1]);
      _exit(tls_pump(ssl, 0, 1, fromprog[0], toprog[1], idle));
  }
  if (fd_copy(0, toprog[0]) == -1 || fd_copy(1, fromprog[1]) == -1) die_sys("move descriptors");
  if (n) {
    size_t eq = strlen(env) + 1;             /* SSL_PROTOCOL=...\0SSL_CIPHER=...\0 */
    if (setenv("SSL_PROTOCOL", env + 13, 1) == -1 || setenv("SSL_CIPHER", env + eq + 11, 1) == -1)
      die_sys("set the environment");
  }
  runprog(prog);
}

/* delayed - UCSPI-TLS: prog runs at once on the network; the child waits
 * for one command byte on the control socket: 'Y' starts TLS and answers
 * with SSL_PROTOCOL=...\0SSL_CIPHER=...\0\0 once the handshake is done,
 * 'y' starts TLS without an answer. EOF before a command: exit 0. */
static noreturn void delayed(SSL_CTX *ctx, char **prog)
{
  int ctl[2];
  char c, env[512];
  const char *why;
  ssize_t r;
  size_t n;
  SSL *ssl;

  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, ctl) == -1) die_sys("make a socket pair");
  pipes();
  switch (fork()) {
    case -1: die_sys("fork");
    case 0: break;
    default:
      close(ctl[1]); close(toprog[1]); close(fromprog[0]);
      if (fd_keep(ctl[0]) == -1 || fd_keep(toprog[0]) == -1 || fd_keep(fromprog[1]) == -1) die_sys("pass descriptors");
      setnum("SSLCTLFD", ctl[0]);
      setnum("SSLREADFD", toprog[0]);
      setnum("SSLWRITEFD", fromprog[1]);
      runprog(prog);
  }
  close(ctl[0]); close(toprog[0]); close(fromprog[1]);
  do r = read(ctl[1], &c, 1); while (r == -1 && errno == EINTR);
  if (r == -1) die_sys("read the control socket");
  if (r == 0) _exit(0);
  if (c != 'Y' && c != 'y') die(100, "ucspi-tlsd: fatal: unknown command on the control socket\n", (char *)0);
  ssl = SSL_new(ctx);
  if (!ssl) tls_die("unable to start TLS", "");
  SSL_set_accept_state(ssl);
  if (!tls_handshake(ssl, 0, 1, hsecs, &why)) handshake_failed(why);
  if (c == 'Y') {
    n = tls_env(ssl, env, sizeof env - 1);
    env[n++] = 0;                              /* the list ends with an empty one */
    if (write(ctl[1], env, n) != (ssize_t)n) die_sys("write the control socket");
  }
  close(ctl[1]);
  _exit(tls_pump(ssl, 0, 1, fromprog[0], toprog[1], idle));
}

static unsigned secs(const char *s)
{
  unsigned long u;
  if (scan_ulong(s, &u) != strlen(s) || !u || u > 86400) usage();
  return (unsigned)u;
}

int main(int argc, char **argv)
{
  int opt, immed = 0, client = 0;
  SSL_CTX *ctx;

  sig_ignore(SIGPIPE);
  while ((opt = getopt(argc, argv, "+icC:Vn:h:t:")) != -1)
    switch (opt) {
      case 'i': immed = 1; break;
      case 'c': client = 1; break;
      case 'C': tlsc_cafile = optarg; break;
      case 'V': tlsc_require = 1; break;
      case 'n': tlsc_name(optarg); break;
      case 'h': hsecs = secs(optarg); break;
      case 't': idle = secs(optarg); break;
      default: usage();
    }
  if (client) { if (optind != argc) usage(); tls_client(hsecs, idle); }
  if (optind >= argc) usage();
  ctx = server_ctx();
  drop();
  if (immed) immediate(ctx, argv + optind);
  delayed(ctx, argv + optind);
}
