/* ucspi-tlsd - TLS for a program run by tcpserver, the UCSPI-TLS way.
 * Usage: ucspi-tlsd [-i] [-h secs] [-t secs] prog...   (server)
 *        ucspi-tlsd -d socket                          (resident engine)
 *        ucspi-tlsd -c [-C cafile] [-V] [-n name]... [-h secs] [-t secs]
 * The server reads CERTFILE and KEYFILE, drops root if it has it, then
 * runs prog. Without -i prog gets SSLCTLFD, SSLREADFD and SSLWRITEFD and
 * starts TLS by writing Y (or y) on the control descriptor; with -i the
 * handshake comes first and prog sees the cleartext on fd 0 and 1.
 * The only program of the suite that links libssl (ucspi-tlsd(8));
 * ucspi-tlsd-front hands connections to the -d engine without it. */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "ucspi-tlsd.h"
#include "fd.h"
#include "say.h"
#include "sig.h"

const char *tls_prog = "ucspi-tlsd";
unsigned hsecs = 30, idle = 1200;

static noreturn void usage(void)
{
  die(100, "ucspi-tlsd: usage: ucspi-tlsd [-i] [-h secs] [-t secs] prog...\n"
           "       ucspi-tlsd -d socket\n"
           "       ucspi-tlsd -c [-C cafile] [-V] [-n name]... [-h secs] [-t secs]\n", NULL);
}

/* loadfile - check that the file named in $var can be read by us now, so
 * the message names the file and the errno, not an OpenSSL code: a
 * failure is fatal, or with fatal 0 it is 0 with errno set */
static const char *loadfile(const char *var, int fatal)
{
  const char *fn = getenv(var);
  int fd;
  if (!fn || !*fn) die(111, "ucspi-tlsd: fatal: ", var, " is not set\n", NULL);
  fd = open(fn, O_RDONLY | O_CLOEXEC);
  if (fd == -1 && !fatal) return 0;
  if (fd == -1) die(111, "ucspi-tlsd: fatal: unable to read ", var, " ", fn, ": ", say_errno(), "\n", NULL);
  close(fd);
  return fn;
}

/* try_ctx - the context with CERTFILE's chain and KEYFILE's key, or 0
 * with *what and *file saying which step failed and the reason queued
 * for tls_reason (or in errno for a file we cannot read, which with
 * fatal set is a fatal error instead) */
static SSL_CTX *try_ctx(int fatal, const char **what, const char **file)
{
  SSL_CTX *ctx = tls_ctx(1);
  const char *cert, *key;
  ERR_clear_error();
  *what = "unable to read CERTFILE "; *file = getenv("CERTFILE");
  if (!(cert = loadfile("CERTFILE", fatal))) goto fail;
  *what = "unable to read KEYFILE "; *file = getenv("KEYFILE");
  if (!(key = loadfile("KEYFILE", fatal))) goto fail;
  *what = "unable to load the certificate chain in CERTFILE "; *file = cert;
  if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1) goto fail;
  *what = "unable to load the key in KEYFILE "; *file = key;
  if (SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1) goto fail;
  *what = "KEYFILE does not match CERTFILE"; *file = "";
  if (SSL_CTX_check_private_key(ctx) != 1) goto fail;
  return ctx;
fail:
  {
    int e = errno;
    SSL_CTX_free(ctx);
    errno = e;
  }
  return 0;
}

SSL_CTX *server_ctx(void)
{
  const char *what, *file;
  SSL_CTX *ctx = try_ctx(1, &what, &file);
  if (!ctx) tls_die(what, file);
  return ctx;
}

SSL_CTX *server_ctx_again(void)
{
  const char *what, *file;
  SSL_CTX *ctx = try_ctx(0, &what, &file);
  if (!ctx) say(2, "ucspi-tlsd: warning: ", what, file, ": ", tls_reason(), "; going on with the context loaded before\n", NULL);
  return ctx;
}

/* one_account - the engine and prog end up with the same ids */
static int one_account(void)
{
  return engine_ids == prog_ids && (!engine_ids || (engine_uid == prog_uid && engine_gid == prog_gid));
}

static noreturn void handshake_failed(const char *why)
{
  die(111, "ucspi-tlsd: TLS handshake failed: ", why ? why : tls_reason(), "\n", NULL);
}

/* accept_tls - the server's handshake on the network, descriptors 0 and
 * 1, within hsecs seconds; a failed one exits 111. The client's last
 * handshake record is acknowledged at once (TCP_QUICKACK; a no-op on
 * anything but TCP): TLS 1.3 without tickets gives the server nothing to
 * send after it, and a client that writes its next command (EHLO after
 * STARTTLS) while that record is unacknowledged holds it back (Nagle)
 * until the delayed ACK, 40 ms later. */
SSL *accept_tls(SSL_CTX *ctx)
{
  const char *why;
  int one = 1;
  SSL *ssl = SSL_new(ctx);
  if (!ssl) tls_die("unable to start TLS", "");
  SSL_set_accept_state(ssl);
  if (!tls_handshake(ssl, 0, 1, hsecs, &why)) handshake_failed(why);
  setsockopt(0, IPPROTO_TCP, TCP_QUICKACK, &one, sizeof one);
  return ssl;
}

/* command - the engine's side of UCSPI-TLS: one command byte on ctl.
 * 'Y' starts TLS and answers with SSL_PROTOCOL=...\0SSL_CIPHER=...\0\0
 * once the handshake is done, 'y' starts TLS without an answer; then
 * the pump, whose code it returns. EOF before a command: 0. */
int command(SSL_CTX *ctx, int ctl)
{
  char c, env[512];
  ssize_t r;
  size_t n;
  SSL *ssl;

  do r = read(ctl, &c, 1); while (r == -1 && errno == EINTR);
  if (r == -1) die_sys("read the control socket");
  if (r == 0) return 0;
  if (c != 'Y' && c != 'y') die(100, "ucspi-tlsd: fatal: unknown command on the control socket\n", NULL);
  ssl = accept_tls(ctx);
  if (c == 'Y') {
    n = tls_env(ssl, env, sizeof env - 1);
    env[n++] = 0;                              /* the list ends with an empty one */
    if (write(ctl, env, n) != (ssize_t)n) die_sys("write the control socket");
  }
  close(ctl);
  return tls_pump(ssl, 0, 1, fromprog[0], toprog[1], idle);
}

/* Two accounts (the engine's are not prog's): the engine is a child that
 * drops to its account, and the first process becomes prog. */

/* immediate - -i: the engine does the handshake and reports it on a
 * pipe; prog runs on the cleartext pipes only after that, so a failed
 * handshake never runs it */
static noreturn void immediate(SSL_CTX *ctx, char **prog)
{
  char env[512];
  size_t n = 0;
  int sync[2];
  ssize_t r;
  SSL *ssl;

  pipes();
  if (pipe2(sync, O_CLOEXEC) == -1) die_sys("make a pipe");
  switch (fork()) {
    case -1: die_sys("fork");
    case 0:
      close(toprog[0]); close(fromprog[1]); close(sync[0]);
      drop_engine();
      ssl = accept_tls(ctx);
      n = tls_env(ssl, env, sizeof env);
      if (write(sync[1], env, n) != (ssize_t)n) _exit(111);
      close(sync[1]);
      _exit(tls_pump(ssl, 0, 1, fromprog[0], toprog[1], idle));
  }
  close(sync[1]);
  if (fd_copy(0, toprog[0]) == -1 || fd_copy(1, fromprog[1]) == -1) die_sys("move descriptors");
  for (;;) {
    do r = read(sync[0], env + n, sizeof env - 1 - n); while (r == -1 && errno == EINTR);
    if (r <= 0) break;
    n += (size_t)r;
    if (n == sizeof env - 1) break;
  }
  if (!export_env(env, n)) _exit(111);        /* no handshake: the engine said why */
  runprog(prog);
}

/* delayed - UCSPI-TLS: prog runs at once on the network; the engine
 * waits for its command */
static noreturn void delayed(SSL_CTX *ctx, char **prog)
{
  int ctl[2];

  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, ctl) == -1) die_sys("make a socket pair");
  pipes();
  switch (fork()) {
    case -1: die_sys("fork");
    case 0: break;
    default:
      close(ctl[1]); close(toprog[1]); close(fromprog[0]);
      offer(ctl[0]);
      runprog(prog);
  }
  close(ctl[0]); close(toprog[0]); close(fromprog[1]);
  drop_engine();
  _exit(command(ctx, ctl[1]));
}

/* One account (the same ids for both, or no change of account): the
 * process that loaded the context stays the engine and starts prog as
 * its child with posix_spawn, which copies none of the engine's memory;
 * it waits for prog and exits as prog did, so tcpserver still sees
 * prog's exit code. The caller has dropped to the account. */

/* spawn - prog as our child, with fa's descriptor moves (or none) */
static pid_t spawn(char **prog, const posix_spawn_file_actions_t *fa)
{
  pid_t pid;
  forget();
  errno = posix_spawnp(&pid, prog[0], fa, 0, prog, environ);
  if (errno) die(111, "ucspi-tlsd: fatal: unable to run ", prog[0], ": ", say_errno(), "\n", NULL);
  return pid;
}

/* reap - wait for prog and exit with its exit code, 111 for a signal */
static noreturn void reap(pid_t pid)
{
  int status;
  while (waitpid(pid, &status, 0) == -1)
    if (errno != EINTR) _exit(111);
  _exit(WIFEXITED(status) ? WEXITSTATUS(status) : 111);
}

/* immediate1 - -i: the handshake, then prog on the cleartext pipes */
static noreturn void immediate1(SSL_CTX *ctx, char **prog)
{
  posix_spawn_file_actions_t fa;
  char env[512];
  pid_t pid;
  SSL *ssl = accept_tls(ctx);

  if (!export_env(env, tls_env(ssl, env, sizeof env - 1)))
    die(111, "ucspi-tlsd: fatal: unable to name the protocol and cipher\n", NULL);
  pipes();
  /* these return the error number */
  if ((errno = posix_spawn_file_actions_init(&fa))
      || (errno = posix_spawn_file_actions_adddup2(&fa, toprog[0], 0))
      || (errno = posix_spawn_file_actions_adddup2(&fa, fromprog[1], 1)))
    die_sys("prepare to run prog");
  pid = spawn(prog, &fa);
  close(toprog[0]); close(fromprog[1]);
  tls_pump(ssl, 0, 1, fromprog[0], toprog[1], idle);
  reap(pid);
}

/* delayed1 - UCSPI-TLS: prog on the network with the control socket and
 * the pipes, then its command */
static noreturn void delayed1(SSL_CTX *ctx, char **prog)
{
  int ctl[2];
  pid_t pid;

  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, ctl) == -1) die_sys("make a socket pair");
  pipes();
  offer(ctl[0]);
  pid = spawn(prog, 0);
  close(ctl[0]); close(toprog[0]); close(fromprog[1]);
  command(ctx, ctl[1]);
  reap(pid);
}

int main(int argc, char **argv)
{
  int opt, immed = 0, client = 0;
  const char *serve = 0;
  SSL_CTX *ctx;

  sig_ignore(SIGPIPE);
  while ((opt = getopt(argc, argv, "+icd:C:Vn:h:t:")) != -1)
    switch (opt) {
      case 'i': immed = 1; break;
      case 'd': serve = optarg; break;
      case 'c': client = 1; break;
      case 'C': tlsc_cafile = optarg; break;
      case 'V': tlsc_require = 1; break;
      case 'n': tlsc_name(optarg); break;
      case 'h': if (!(hsecs = scan_secs(optarg))) usage(); break;
      case 't': if (!(idle = scan_secs(optarg))) usage(); break;
      default: usage();
    }
  if (client) { if (optind != argc || serve) usage(); tls_client(hsecs, idle); }
  if (serve) { if (optind != argc || immed) usage(); engine_serve(serve); }
  if (optind >= argc) usage();
  ctx = server_ctx();
  plan_ids();
  if (one_account()) {
    drop_engine();
    if (immed) immediate1(ctx, argv + optind);
    delayed1(ctx, argv + optind);
  }
  if (immed) immediate(ctx, argv + optind);
  delayed(ctx, argv + optind);
}
