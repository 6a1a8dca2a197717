#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"
#include "control.h"

static char dir[] = "/tmp/ctltestXXXXXX";
static int olddir = -1;
static int nwarned;
static char warnedfn[64], warnedval[64];

static void warned(const char *fn, const char *value)
{
  ++nwarned;
  strncpy(warnedfn, fn, sizeof warnedfn - 1);
  strncpy(warnedval, value, sizeof warnedval - 1);
  warnedval[sizeof warnedval - 1] = 0;
}

static void enter(void)
{
  CHECK(mkdtemp(dir) != 0);
  olddir = open(".", O_RDONLY);
  CHECK(chdir(dir) == 0);
  CHECK(mkdir("control", 0755) == 0);
}

static void put(const char *fn, const char *s)
{
  int fd = open(fn, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  CHECK(fd != -1);
  CHECK(write(fd, s, strlen(s)) == (ssize_t)strlen(s));
  close(fd);
}

static void leave(void)
{
  CHECK(system("rm -rf control") == 0);
  CHECK(fchdir(olddir) == 0);
  close(olddir);
  rmdir(dir);
}

/* control files saved with CRLF and trailing blanks read as clean names */
TEST(control_crlf_comments)
{
  sa out = SA_ZERO;
  unsigned long u = 7;

  enter();
  put("control/locals", "# comment\r\nexample.com\r\n\r\n  \nexample.net \t\r\n");
  CHECK(control_readfile(&out, "control/locals") == 1);
  CHECK(out.len == 24 && memcmp(out.s, "example.com\0example.net\0", 24) == 0);
  put("control/me", "host.example\r\n");
  CHECK(control_me(&out) == 1);
  CHECK(out.len == 12 && memcmp(out.s, "host.example", 12) == 0);
  put("control/me", "\n");
  CHECK(control_me(&out) == 2 && out.len > 0);
  CHECK(control_rldef(&out, "control/bouncefrom", "MAILER-DAEMON") == 0);
  CHECK(out.len == 13);
  CHECK(control_readnum(&u, "control/missing", 0) == 0 && u == 7);
  put("control/n", "42\r\n");
  CHECK(control_readnum(&u, "control/n", 0) == 1 && u == 42);
  put("control/n", "garbage\n");
  CHECK(control_readnum(&u, "control/n", warned) == 2 && u == 42);
  CHECK(nwarned == 1 && strcmp(warnedval, "garbage") == 0 && strcmp(warnedfn, "control/n") == 0);
  put("control/n", "-5\n");
  CHECK(control_readnum(&u, "control/n", warned) == 2 && u == 42 && strcmp(warnedval, "-5") == 0);
  put("control/n", "99999999999999999999999\n");
  CHECK(control_readnum(&u, "control/n", 0) == 2 && u == 42);
  put("control/n", "\n");
  CHECK(control_readnum(&u, "control/n", warned) == 0 && u == 42 && nwarned == 2);
  put("control/n", " 7\n");
  CHECK(control_readnum(&u, "control/n", warned) == 2 && u == 42 && nwarned == 3);
  put("control/n", "18446744073709551615\n");
  CHECK(control_readnum(&u, "control/n", warned) == 1 && u == 18446744073709551615UL && nwarned == 3);
  CHECK(control_readnum(&u, "control/missing", warned) == 0 && nwarned == 3);
  CHECK(control_readfile(&out, "control/none") == 0 && out.len == 0);
  leave();
  sa_free(&out);
}
