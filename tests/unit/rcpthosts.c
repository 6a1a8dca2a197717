/* unit tests for src/smtpd/rcpthosts, in a scratch directory */
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"
#include "cdb_make.h"
#include "rcpthosts.h"

static char rh_old[PATH_MAX];
static char rh_dir[] = "/tmp/unit-rcpthosts.XXXXXX";

static int rh_enter(void)
{
  if (!getcwd(rh_old, sizeof rh_old)) return 0;
  if (!mkdtemp(rh_dir)) return 0;
  if (chdir(rh_dir) == -1) return 0;
  return mkdir("control", 0755) == 0;
}

static void rh_leave(void)
{
  unlink("control/rcpthosts");
  unlink("control/morercpthosts.cdb");
  rmdir("control");
  if (chdir(rh_old) == -1) return;
  rmdir(rh_dir);
  strcpy(rh_dir, "/tmp/unit-rcpthosts.XXXXXX");
}

static void rh_write(const char *fn, const char *s)
{
  int fd = open(fn, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd == -1) return;
  if (write(fd, s, strlen(s)) < 0) { close(fd); return; }
  close(fd);
}

static int ok(rcpthosts *r, const char *a) { return rcpthosts_check(r, a, strlen(a)); }

/* qmail's open relay without control/rcpthosts is closed here (issue 10,
 * defect 6): only a recipient without '@' passes; a morercpthosts.cdb
 * alone opens nothing either, as in qmail */
TEST(rcpthosts_missing_refuses_relay)
{
  struct cdb_make m;
  rcpthosts r;
  int fd;
  CHECK(rh_enter());
  CHECK(rcpthosts_init(&r) == 0);
  CHECK(r.flagrh == 0);
  CHECK(ok(&r, "a@anywhere.example") == 0);
  CHECK(ok(&r, "a@") == 0);
  CHECK(ok(&r, "postmaster") == 1);
  rcpthosts_free(&r);
  fd = open("control/morercpthosts.cdb", O_RDWR | O_CREAT | O_TRUNC, 0644);
  CHECK(fd != -1 && cdb_make_start(&m, fd) == 0);
  CHECK(cdb_make_add(&m, "more.example", 12, "", 0) == 0 && cdb_make_finish(&m) == 0);
  close(fd);
  CHECK(rcpthosts_init(&r) == 0);
  CHECK(ok(&r, "a@more.example") == 0);
  CHECK(ok(&r, "box") == 1);
  rcpthosts_free(&r);
  rh_leave();
}

TEST(rcpthosts_list)
{
  rcpthosts r;
  CHECK(rh_enter());
  rh_write("control/rcpthosts", "Example.COM\r\n# comment\n.wild.example\nlocalhost  \n");
  CHECK(rcpthosts_init(&r) == 0);
  CHECK(ok(&r, "user@example.com") == 1);
  CHECK(ok(&r, "user@EXAMPLE.com") == 1);
  CHECK(ok(&r, "user@localhost") == 1);
  CHECK(ok(&r, "noat") == 1);                     /* no @: envnoathost */
  CHECK(ok(&r, "user@evil.example") == 0);
  CHECK(ok(&r, "user@sub.example.com") == 0);     /* no wildcard for it */
  CHECK(ok(&r, "user@a.wild.example") == 1);
  CHECK(ok(&r, "user@a.b.wild.example") == 1);
  CHECK(ok(&r, "user@wild.example") == 0);        /* ".x" is only below x */
  CHECK(ok(&r, "user@example.com.") == 0);        /* a trailing dot is no match */
  CHECK(ok(&r, "user@example.com@evil.example") == 0);   /* last @ decides */
  CHECK(ok(&r, "user@evil.example@example.com") == 1);
  CHECK(ok(&r, "@evil.example") == 0);            /* ""@host */
  CHECK(ok(&r, "user@") == 0);
  CHECK(ok(&r, "user@[127.0.0.1]") == 0);
  CHECK(ok(&r, "user%evil.example@example.com") == 1);
  CHECK(rcpthosts_check(&r, "u@example.com\0.evil", 19) == 0);  /* NUL inside */
  CHECK(ok(&r, "user@xexample.com") == 0);
  rcpthosts_free(&r);
  rh_leave();
}

TEST(rcpthosts_more_cdb)
{
  rcpthosts r;
  struct cdb_make c;
  int fd;

  CHECK(rh_enter());
  rh_write("control/rcpthosts", "example.com\n");
  fd = open("control/morercpthosts.cdb", O_RDWR | O_CREAT | O_TRUNC, 0644);
  CHECK(fd != -1);
  CHECK(cdb_make_start(&c, fd) == 0);
  CHECK(cdb_make_add(&c, "more.example", 12, "", 0) == 0);
  CHECK(cdb_make_add(&c, ".deep.example", 13, "", 0) == 0);
  CHECK(cdb_make_finish(&c) == 0);
  close(fd);
  CHECK(rcpthosts_init(&r) == 0);
  CHECK(ok(&r, "u@more.example") == 1);
  CHECK(ok(&r, "u@MORE.Example") == 1);           /* keys are lower case */
  CHECK(ok(&r, "u@x.deep.example") == 1);
  CHECK(ok(&r, "u@deep.example") == 0);
  CHECK(ok(&r, "u@other.example") == 0);
  CHECK(ok(&r, "u@example.com") == 1);
  rcpthosts_free(&r);
  /* without rcpthosts the cdb alone opens nothing: every domain is refused */
  unlink("control/rcpthosts");
  CHECK(rcpthosts_init(&r) == 0);
  CHECK(ok(&r, "u@other.example") == 0);
  CHECK(ok(&r, "u@more.example") == 0);
  rcpthosts_free(&r);
  rh_leave();
}
