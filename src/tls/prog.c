/* prog - what a server helper does for the program it runs, with no
 * TLS library: the accounts the engine and prog become (plan_ids), the
 * pipes between them, UCSPI-TLS's descriptors in prog's environment,
 * SSL_PROTOCOL and SSL_CIPHER from the engine's report, and running prog.
 * ucspi-tlsd and ucspi-tlsd-front share it. Every function that can fail
 * prints "<tls_prog>: fatal: ..." and exits 111. */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "prog.h"
#include "fd.h"
#include "fmt.h"
#include "priv.h"
#include "say.h"
#include "scan.h"

noreturn void die_sys(const char *what) { die(111, tls_prog, ": fatal: unable to ", what, ": ", say_errno(), "\n", NULL); }

/* ids - the numbers in $u and $g: 1, 0 when unset, exit when malformed */
static int ids(const char *u, const char *g, uid_t *uid, gid_t *gid)
{
  const char *x = getenv(u), *y = getenv(g);
  unsigned long a, b;
  if (!x || !y) return 0;
  if (!*x || scan_ulong(x, &a) != strlen(x) || !*y || scan_ulong(y, &b) != strlen(y))
    die(111, tls_prog, ": fatal: ", u, " or ", g, " is not a number\n", NULL);
  *uid = (uid_t)a;
  *gid = (gid_t)b;
  return 1;
}

static void become(uid_t uid, gid_t gid)
{
  if (!priv_drop(uid, gid)) die_sys("drop privileges");
}

/* Started as root, the key is read first; then the TLS engine, which
 * handles every byte from the network, becomes $TLS_UID/$TLS_GID
 * (s6-networking's names) or else $UID/$GID, and never runs as root; prog
 * becomes $UID/$GID (envuidgid's names, what tcpserver -U would do) when
 * they are set, and otherwise keeps root (qmail-popup needs it for
 * checkpassword). Not started as root, nothing changes. */
int engine_ids;
uid_t engine_uid;
gid_t engine_gid;
int prog_ids;
uid_t prog_uid;
gid_t prog_gid;

void plan_ids(void)
{
  if (geteuid() != 0) return;
  prog_ids = ids("UID", "GID", &prog_uid, &prog_gid);
  engine_ids = ids("TLS_UID", "TLS_GID", &engine_uid, &engine_gid);
  if (!engine_ids && prog_ids) { engine_ids = 1; engine_uid = prog_uid; engine_gid = prog_gid; }
  if (!engine_ids || !engine_uid)
    die(111, tls_prog, ": fatal: running as root: set TLS_UID and TLS_GID, or UID and GID, to the account the TLS engine runs as\n", NULL);
}

void drop_engine(void) { if (engine_ids) become(engine_uid, engine_gid); }
void drop_prog(void) { if (prog_ids) become(prog_uid, prog_gid); }

static void setnum(const char *var, int fd)
{
  char num[FMT_ULONG];
  num[fmt_ulong(num, (unsigned long)fd)] = 0;
  if (setenv(var, num, 1) == -1) die_sys("set the environment");
}

unsigned scan_secs(const char *s)
{
  unsigned long u;
  if (scan_ulong(s, &u) != strlen(s) || !u || u > 86400) return 0;
  return (unsigned)u;
}

/* the application's view: one pipe each way, made close-on-exec on our
 * side so nothing else holds them open */
int toprog[2], fromprog[2];

void pipes(void)
{
  if (pipe2(toprog, O_CLOEXEC) == -1 || pipe2(fromprog, O_CLOEXEC) == -1) die_sys("make pipes");
}

/* forget - what prog need not know */
void forget(void)
{
  unsetenv("CERTFILE"); unsetenv("KEYFILE"); unsetenv("TLS_UID"); unsetenv("TLS_GID");
}

noreturn void runprog(char **prog)
{
  drop_prog();
  forget();
  execvp(prog[0], prog);
  die(111, tls_prog, ": fatal: unable to run ", prog[0], ": ", say_errno(), "\n", NULL);
}

/* export_env - "SSL_PROTOCOL=p\0SSL_CIPHER=c\0" (tls_env's: n bytes in
 * env, which has room for one more) into our environment for prog; 0 when
 * env is not that */
int export_env(char *env, size_t n)
{
  size_t eq;
  if (n < 14) return 0;
  env[n] = 0;
  eq = strlen(env) + 1;
  if (eq >= n || strncmp(env, "SSL_PROTOCOL=", 13) || strncmp(env + eq, "SSL_CIPHER=", 11)) return 0;
  if (setenv("SSL_PROTOCOL", env + 13, 1) == -1 || setenv("SSL_CIPHER", env + eq + 11, 1) == -1)
    die_sys("set the environment");
  return 1;
}

/* offer - UCSPI-TLS: the control socket's end ctl and the pipes' ends
 * that prog keeps, named in the environment it gets */
void offer(int ctl)
{
  if (fd_keep(ctl) == -1 || fd_keep(toprog[0]) == -1 || fd_keep(fromprog[1]) == -1) die_sys("pass descriptors");
  setnum("SSLCTLFD", ctl);
  setnum("SSLREADFD", toprog[0]);
  setnum("SSLWRITEFD", fromprog[1]);
}

