/* qmail-newu - compile users/assign into users/cdb for qmail-lspawn.
 * Reads users/assign (qmail-users(5)), writes users/cdb.tmp, fsyncs it and
 * renames it over users/cdb, so a reader sees the old or the new database,
 * never a partial one. Any error leaves users/cdb alone. Exit 0 or 111. */
#include <errno.h>
#include <stdio.h>     /* rename() only: no stdio streams here */
#include <sys/stat.h>
#include <unistd.h>

#include "fmt.h"
#include "open.h"
#include "say.h"
#include "syncdir.h"

#include "assign.h"
#include "auto.h"

#define FATAL "qmail-newu: fatal: "

static noreturn void die_tmp(const char *what)
{
  const char *e = say_errno();
  unlink("users/cdb.tmp");
  die(111, FATAL, what, ": ", e, "\n", NULL);
}

int main(void)
{
  char num[FMT_ULONG];
  unsigned long line;
  const char *why;
  int fdin, fdout, r;

  umask(033);
  if (chdir(auto_home) == -1)
    die(111, FATAL, "unable to chdir to ", auto_home, ": ", say_errno(), "\n", NULL);

  fdin = open_read("users/assign");
  if (fdin == -1)
    die(111, FATAL, "unable to open users/assign: ", say_errno(), "\n", NULL);
  fdout = open_trunc("users/cdb.tmp");
  if (fdout == -1)
    die(111, FATAL, "unable to open users/cdb.tmp: ", say_errno(), "\n", NULL);

  r = assign_make(fdin, fdout, &line, &why);
  if (r == -1) die_tmp("unable to build users/cdb.tmp");
  if (r == 0) {
    num[fmt_ulong(num, line)] = 0;
    unlink("users/cdb.tmp");
    die(111, FATAL, "bad format in users/assign line ", num, ": ", why, "\n", NULL);
  }

  /* the data must be on disk before the new name can point at it */
  if (fsync(fdout) == -1) die_tmp("unable to write users/cdb.tmp");
  if (close(fdout) == -1) die_tmp("unable to write users/cdb.tmp");
  if (rename("users/cdb.tmp", "users/cdb") == -1)
    die_tmp("unable to move users/cdb.tmp to users/cdb");
  /* make the rename itself durable; a failure here changes nothing seen */
  if (syncdir("users") == -1) {}
  return 0;
}
