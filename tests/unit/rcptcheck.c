#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"
#include "rcptcheck.h"

/* the answer the stub password lookup gives: six fields, or a failure */
static const char *pwanswer;
static size_t pwlen;
static const char *dir;

static int pwstub(sa *out, const char *local, size_t len, getpw_why *w)
{
  if (!pwanswer) {
    w->why = "unable to read ";
    w->name = "passwd";
    w->tail = "";
    w->err = 0;
    return 0;
  }
  return sa_catb(out, pwanswer, pwlen);
}

/* run - rcptcheck on s from a fresh directory with no users/cdb,
 * coming back to where we were */
static int run(const char *s, rcptcheck_pw *pw, sa *log)
{
  int here = open(".", O_RDONLY | O_DIRECTORY), r;
  if (here == -1 || chdir(dir) == -1) return -1;
  r = rcptcheck(s, strlen(s), pw, log);
  if (fchdir(here) == -1) r = -1;
  close(here);
  return r;
}

static int setdir(void)
{
  static char name[32];
  if (!dir) dir = mkdtemp(strcpy(name, "/tmp/rcptchecktestXXXXXX"));
  return dir != 0;
}

static int is(const sa *x, const char *s) { return x->len == strlen(s) + 1 && !memcmp(x->s, s, x->len); }

TEST(rcptcheck_needs_the_password_database_without_users_cdb)
{
  sa log = SA_ZERO;
  CHECK(setdir());
  CHECK(run("someone@x", 0, &log) == RCPTCHECK_NEEDPW);
  CHECK(run("@x", 0, &log) == RCPTCHECK_OK);          /* trash address: no lookup */
  pwanswer = 0;
  CHECK(run("a b@x", pwstub, &log) == RCPTCHECK_TEMP);
  CHECK(is(&log, "qmail-rcptcheck: cannot tell now: a_b@x: unable to read passwd (#4.3.0)\n"));
  sa_free(&log);
}

TEST(rcptcheck_refuses_root_and_finds_dot_qmail)
{
  sa log = SA_ZERO, ans = SA_ZERO, fn = SA_ZERO;
  int fd;
  CHECK(setdir());
  pwanswer = "root\0" "0\0" "0\0" "/\0" "\0" "\0";
  pwlen = 13;
  CHECK(run("root@x", pwstub, &log) == RCPTCHECK_TEMP);
  CHECK(is(&log, "qmail-rcptcheck: cannot tell now: root@x: not allowed to deliver as root: root (#4.3.0)\n"));
  /* an account whose home is dir, extension "foo" */
  CHECK(sa_catb(&ans, "u\0" "1000\0" "1000\0", 12) && sa_cats(&ans, dir) && sa_catb(&ans, "\0-\0foo\0", 7));
  pwanswer = ans.s;
  pwlen = ans.len;
  CHECK(run("u-foo@x", pwstub, &log) == RCPTCHECK_NOMAILBOX);
  CHECK(sa_cats(&fn, dir) && sa_cats(&fn, "/.qmail-foo") && sa_0(&fn));
  fd = open(fn.s, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  CHECK(fd != -1);
  if (fd != -1) close(fd);
  CHECK(run("u-foo@x", pwstub, &log) == RCPTCHECK_OK);
  CHECK(chmod(fn.s, 0666) == 0);                      /* writable: delivery defers */
  CHECK(run("u-foo@x", pwstub, &log) == RCPTCHECK_TEMP);
  unlink(fn.s);
  rmdir(dir);
  dir = 0;
  sa_free(&log);
  sa_free(&ans);
  sa_free(&fn);
}
