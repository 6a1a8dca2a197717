/* qmail-newmrh - compile control/morercpthosts into morercpthosts.cdb.
 * Each line is a host name; it is lower-cased, loses trailing spaces, tabs
 * and CRs, and becomes a key with empty data. Blank lines and lines
 * beginning with # are skipped. The cdb is written to a .tmp file, fsynced
 * and renamed, so qmail-smtpd never sees a partial one. Exit 0 or 111. */
#include <errno.h>
#include <stdio.h>     /* rename() only: no stdio streams here */
#include <sys/stat.h>
#include <unistd.h>

#include "bio.h"
#include "cdb_make.h"
#include "open.h"
#include "sa.h"
#include "say.h"
#include "str.h"
#include "syncdir.h"

#include "auto.h"

#define FATAL "qmail-newmrh: fatal: "
#define TMP "control/morercpthosts.tmp"
#define MAXLINE 65536

static noreturn void die_read(void)
{
  die(111, FATAL, "unable to read control/morercpthosts: ", say_errno(), "\n", NULL);
}

static noreturn void die_write(void)
{
  const char *e = say_errno();
  unlink(TMP);
  die(111, FATAL, "unable to write to " TMP ": ", e, "\n", NULL);
}

static struct cdb_make cm;
static char inbuf[4096];
static sa line = SA_ZERO;

int main(void)
{
  bio in;
  int fdin, fdout, r;
  char c;

  umask(033);
  if (chdir(auto_home) == -1)
    die(111, FATAL, "unable to chdir to ", auto_home, ": ", say_errno(), "\n", NULL);
  fdin = open_read("control/morercpthosts");
  if (fdin == -1) die_read();
  bio_init(&in, fdin, inbuf, sizeof inbuf);
  fdout = open_trunc(TMP);
  if (fdout == -1) die_write();
  if (cdb_make_start(&cm, fdout) == -1) die_write();

  for (;;) {
    line.len = 0;
    r = bio_getln(&in, &line, '\n', MAXLINE);
    if (r == -1) die_read();
    if (r == -2) {
      unlink(TMP);
      die(111, FATAL, "line too long in control/morercpthosts\n", NULL);
    }
    while (line.len) {
      c = line.s[line.len - 1];
      if (c != '\n' && c != '\r' && c != ' ' && c != '\t') break;
      --line.len;
    }
    if (line.len && line.s[0] != '#') {
      case_lowerb(line.s, line.len);
      if (cdb_make_add(&cm, line.s, line.len, "", 0) == -1) die_write();
    }
    if (r == 0) break;
  }

  if (cdb_make_finish(&cm) == -1) die_write();
  /* the data must be on disk before the new name can point at it */
  if (fsync(fdout) == -1) die_write();
  if (close(fdout) == -1) die_write();
  if (rename(TMP, "control/morercpthosts.cdb") == -1) {
    const char *e = say_errno();
    unlink(TMP);
    die(111, FATAL, "unable to move " TMP " to control/morercpthosts.cdb: ", e, "\n", NULL);
  }
  /* make the rename itself durable; a failure here changes nothing seen */
  if (syncdir("control") == -1) {}
  return 0;
}
