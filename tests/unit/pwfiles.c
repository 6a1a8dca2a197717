#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"
#include "pwfiles.h"

/* a directory with a home, a passwd file and nsswitch files of our own */
static char dir[64];
static char home[96], passwd[96];
static char nss[8][96];
static unsigned long uid;

static int put(const char *fn, const char *text)
{
  FILE *f = fopen(fn, "w");
  if (!f) return 0;
  fputs(text, f);
  return fclose(f) == 0;
}

static int setup(void)
{
  static const char *orders[] = {
    "passwd: files\n",
    "# comment\npasswd:\tfiles   systemd # and more\ngroup: files\n",
    "passwd: systemd files\n",
    "passwd: files [NOTFOUND=return] systemd\n",
    "passwd: files\npasswd: files\n",
    "group: files\n",
  };
  char text[512];
  size_t i;

  if (dir[0]) return 1;
  if (!mkdtemp(strcpy(dir, "/tmp/pwfilestestXXXXXX"))) return 0;
  snprintf(home, sizeof home, "%s/home", dir);
  snprintf(passwd, sizeof passwd, "%s/passwd", dir);
  if (mkdir(home, 0755) == -1) return 0;
  uid = getuid() ? getuid() : 4321;
  if (!getuid() && chown(home, 4321, 4321) == -1) return 0;
  for (i = 0; i < sizeof orders / sizeof *orders; ++i) {
    snprintf(nss[i], sizeof nss[i], "%s/nss%zu", dir, i);
    if (!put(nss[i], orders[i])) return 0;
  }
  snprintf(text, sizeof text, "root:x:0:0:root:/root:/bin/sh\nalice:x:%lu:%lu:Alice:%s:/bin/sh\nalias:x:%lu:%lu::%s:\n",
           uid, uid, home, uid, uid, home);
  return put(passwd, text);
}

static void cleanup(void)
{
  size_t i;
  for (i = 0; i < 6; ++i) unlink(nss[i]);
  unlink(passwd);
  rmdir(home);
  rmdir(dir);
  dir[0] = 0;
}

/* answer - pwfiles_answer on s; the six fields joined by '|' in got */
static int answer(const char *s, char *got, size_t n)
{
  sa out = SA_ZERO;
  getpw_why w;
  size_t i;
  int r = pwfiles_answer(&out, s, strlen(s), &w);
  got[0] = 0;
  if (r == 1 && out.len < n) {
    for (i = 0; i < out.len; ++i) got[i] = out.s[i] ? out.s[i] : '|';
    got[out.len] = 0;
  }
  sa_free(&out);
  return r;
}

static int is(const char *got, const char *user, const char *dash, const char *ext)
{
  char want[256];
  snprintf(want, sizeof want, "%s|%lu|%lu|%s|%s|%s|", user, uid, uid, home, dash, ext);
  return !strcmp(got, want);
}

TEST(pwfiles_answers_when_files_is_the_only_source)
{
  char got[256];
  CHECK(setup());
  pwfiles_passwd = passwd;
  pwfiles_nsswitch = nss[0];
  CHECK(answer("alice", got, sizeof got) == 1 && is(got, "alice", "", ""));
  CHECK(answer("Alice-Foo", got, sizeof got) == 1 && is(got, "alice", "-", "Foo"));
  /* no account: the alias user's, with the whole local part */
  CHECK(answer("bob", got, sizeof got) == 1 && is(got, "alias", "-", "bob"));
  /* root is not a user: the alias user's too */
  CHECK(answer("root", got, sizeof got) == 1 && is(got, "alias", "-", "root"));
}

TEST(pwfiles_tells_a_found_account_only_when_files_comes_first)
{
  char got[256];
  CHECK(setup());
  pwfiles_passwd = passwd;
  pwfiles_nsswitch = nss[1];           /* files systemd */
  CHECK(answer("alice", got, sizeof got) == 1 && is(got, "alice", "", ""));
  /* alice-foo might be an account of the other source */
  CHECK(answer("alice-foo", got, sizeof got) == -1);
  CHECK(answer("bob", got, sizeof got) == -1);
  pwfiles_nsswitch = nss[2];           /* systemd files */
  CHECK(answer("alice", got, sizeof got) == -1);
  pwfiles_nsswitch = nss[3];           /* an action */
  CHECK(answer("alice", got, sizeof got) == -1);
  pwfiles_nsswitch = nss[4];           /* two passwd lines */
  CHECK(answer("alice", got, sizeof got) == -1);
  pwfiles_nsswitch = nss[5];           /* no passwd line: NSS's default */
  CHECK(answer("alice", got, sizeof got) == -1);
  pwfiles_nsswitch = "/nonexistent/nsswitch.conf";
  CHECK(answer("alice", got, sizeof got) == -1);
}

TEST(pwfiles_cannot_tell_from_entries_it_does_not_read_as_nss_would)
{
  static const char *bad[] = {
    "+\nalice:x:%lu:%lu::%s:/bin/sh\n",                 /* compat */
    " alice:x:%lu:%lu::%s:/bin/sh\n",                   /* leading blank */
    "alice:x:%lu:%lu::%s\n",                            /* six fields */
    "alice:x:%lu:%lu::%s:/bin/sh:extra\n",              /* eight */
    "alice:x:%lux:%lu::%s:/bin/sh\n",                   /* uid not a number */
  };
  char got[256], text[512];
  size_t i;
  CHECK(setup());
  pwfiles_passwd = passwd;
  pwfiles_nsswitch = nss[0];
  for (i = 0; i < sizeof bad / sizeof *bad; ++i) {
    snprintf(text, sizeof text, bad[i], uid, uid, home);
    CHECK(put(passwd, text));
    CHECK(answer("alice", got, sizeof got) == -1);
  }
  /* an entry on a last line with no newline is read */
  snprintf(text, sizeof text, "alice:x:%lu:%lu::%s:/bin/sh", uid, uid, home);
  CHECK(put(passwd, text));
  CHECK(answer("alice", got, sizeof got) == 1 && is(got, "alice", "", ""));
  pwfiles_passwd = "/nonexistent/passwd";
  CHECK(answer("alice", got, sizeof got) == -1);
  pwfiles_passwd = "/etc/passwd";
  pwfiles_nsswitch = "/etc/nsswitch.conf";
  cleanup();
}
