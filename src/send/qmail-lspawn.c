/* qmail-lspawn - run qmail-local for qmail-send, one child per delivery,
 * under the uid and gid of the user who controls the address
 * (qmail-lspawn(8)). The only long-lived root process: it looks up the
 * user in users/cdb, else with qmail-getpw (run as qmailp), refuses uid 0,
 * drops to the user with no supplementary groups and execs qmail-local
 * with the message on a seekable fd 0. */
#include <errno.h>
#include <grp.h>
#include <string.h>
#include <unistd.h>

#include "assign.h"
#include "auto.h"
#include "err.h"
#include "ids.h"
#include "sa.h"
#include "spawn.h"
#include "str.h"
#include "wait.h"

/* exit codes of a delivery child before qmail-local runs (qmail's qlx) */
#define QLX_USAGE 112
#define QLX_ROOT 113
#define QLX_NFS 115
#define QLX_NOALIAS 116
#define QLX_CDB 117
#define QLX_SYS 118
#define QLX_NOMEM 119
#define QLX_EXECSOFT 120
#define QLX_EXECPW 121
#define QLX_EXECHARD 126

#define TRUNCREPORT 3000
#define GETPWMAX 4096

static const char *defaultdelivery;
static uid_t uidp, uidq;
static gid_t gidn;

static const char *qlxtext(int code)
{
  switch (code) {
    case QLX_CDB: return "ZTrouble reading users/cdb in qmail-lspawn.\n";
    case QLX_NOMEM: return "ZOut of memory in qmail-lspawn.\n";
    case QLX_SYS: return "ZTemporary failure in qmail-lspawn.\n";
    case QLX_NOALIAS: return "ZUnable to find alias user!\n";
    case QLX_ROOT: return "ZNot allowed to perform deliveries as root.\n";
    case QLX_USAGE: return "ZInternal qmail-lspawn bug.\n";
    case QLX_NFS: return "ZNFS failure in qmail-local.\n";
    case QLX_EXECHARD: return "DUnable to run qmail-local.\n";
    case QLX_EXECSOFT: return "ZUnable to run qmail-local.\n";
    case QLX_EXECPW: return "ZUnable to run qmail-getpw.\n";
  }
  return 0;
}

/* report - qmail-local's exit: 0 K; 111, 71, 74, 75 Z; else D */
static void report(sa *out, int wstat, const char *s, size_t len, int truncated)
{
  static const char note[] = "\nError report too long, sorry.\n";
  const char *t;
  const char *z;
  char c;
  int code;

  if (!WIFEXITED(wstat)) { sa_cats(out, "Zqmail-local crashed.\n"); return; }
  code = WEXITSTATUS(wstat);
  t = qlxtext(code);
  if (t) { sa_cats(out, t); return; }
  switch (code) {
    case 0: c = 'K'; break;
    case 111: case 71: case 74: case 75: c = 'Z'; break;
    default: c = 'D'; break;
  }
  z = memchr(s, 0, len);
  if (z) len = (size_t)(z - s);
  if (truncated && len > TRUNCREPORT - sizeof note) len = TRUNCREPORT - sizeof note;
  if (!sa_append(out, c) || !sa_catb(out, s, len)) { out->len = 0; return; }
  if (truncated && !z && !sa_cats(out, note)) out->len = 0;
}

/* getpw - run qmail-getpw local as qmailp/nofiles; exits on trouble */
static void getpw(assign *a, const char *local)
{
  char buf[GETPWMAX];
  size_t len = 0;
  int pi[2], wstat, r;
  pid_t pid;
  char *args[3];

  if (pipe(pi) == -1) _exit(QLX_SYS);
  pid = fork();
  if (pid == -1) _exit(QLX_SYS);
  if (pid == 0) {
    close(pi[0]);
    if (setgroups(1, &gidn) == -1 || setgid(gidn) == -1) _exit(QLX_USAGE);
    if (setuid(uidp) == -1) _exit(QLX_USAGE);
    if (dup2(pi[1], 1) == -1) _exit(QLX_SYS);
    if (pi[1] != 1) close(pi[1]);
    args[0] = "bin/qmail-getpw";
    args[1] = (char *)local;
    args[2] = 0;
    execv(args[0], args);
    _exit(QLX_EXECPW);
  }
  close(pi[1]);
  for (;;) {
    ssize_t n = read(pi[0], buf + len, sizeof buf - len);
    if (n == -1 && errno == EINTR) continue;
    if (n == -1) _exit(QLX_SYS);
    if (n == 0) break;
    len += (size_t)n;
    if (len == sizeof buf) _exit(QLX_USAGE);
  }
  close(pi[0]);
  if (wait_pid(pid, &wstat) == -1) _exit(QLX_SYS);
  if (!WIFEXITED(wstat)) _exit(QLX_SYS);
  if (WEXITSTATUS(wstat)) _exit(WEXITSTATUS(wstat));
  r = assign_parse(a, buf, len);
  if (r == -1) _exit(QLX_NOMEM);
  if (r == 0) _exit(QLX_USAGE);
}

static void child(const char *sender, const char *recip, size_t at)
{
  assign a = ASSIGN_ZERO;
  sa local = SA_ZERO;
  char qlocal[4096];
  char *args[11];
  int r;

  if (chdir(auto_home) == -1) _exit(QLX_USAGE);
  /* an empty mailbox name is a trash address (qmail-lspawn(8)) */
  if (!at) _exit(0);
  if (!sa_copyb(&local, recip, at) || !sa_0(&local)) _exit(QLX_NOMEM);
  r = assign_lookup(&a, recip, at);
  if (r == -1) _exit(errno == ENOMEM ? QLX_NOMEM : QLX_CDB);
  if (r == 0) getpw(&a, local.s);
  if (a.uid == 0) _exit(QLX_ROOT);
  if (strlen(auto_home) + sizeof "/bin/qmail-local" > sizeof qlocal) _exit(QLX_USAGE);
  strcpy(qlocal, auto_home);
  strcat(qlocal, "/bin/qmail-local");
  /* the user's gid only: no supplementary groups */
  if (setgroups(1, &a.gid) == -1 || setgid(a.gid) == -1) _exit(QLX_USAGE);
  if (setuid(a.uid) == -1) _exit(QLX_USAGE);
  if (getuid() == 0 || geteuid() == 0) _exit(QLX_ROOT);
  args[0] = qlocal;
  args[1] = "--";
  args[2] = a.user.s;
  args[3] = a.home.s;
  args[4] = local.s;
  args[5] = a.dash.s;
  args[6] = a.ext.s;
  args[7] = (char *)recip + at + 1;
  args[8] = (char *)sender;
  args[9] = (char *)defaultdelivery;
  args[10] = 0;
  execv(args[0], args);
  _exit(err_temp(errno) ? QLX_EXECSOFT : QLX_EXECHARD);
}

static pid_t start(int fdmess, int fdout, const char *sender, const char *recip, size_t at)
{
  pid_t pid = fork();
  if (pid != 0) return pid;
  if (spawn_childsetup(fdmess, fdout) == -1) _exit(QLX_SYS);
  child(sender, recip, at);
  _exit(QLX_USAGE);
}

int main(int argc, char **argv)
{
  spawn_ops ops;
  gid_t g;

  defaultdelivery = argv[1];
  if (argc < 2 || !defaultdelivery) _exit(100);
  if (!ids_uid(auto_userp, &uidp) || !ids_uid(auto_userq, &uidq) ||
      !ids_gid(auto_groupn, &gidn) || !ids_gid(auto_groupq, &g)) _exit(111);
  ops.limit = auto_spawn;
  ops.maxoutput = TRUNCREPORT;
  ops.messowner = uidq;
  ops.start = start;
  ops.report = report;
  return spawn_main(&ops);
}
