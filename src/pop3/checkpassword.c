/* checkpassword - check a login against the system's passwords (the
 * checkpassword interface) and run a program as that user.
 * Reads "name\0password\0timestamp\0" (at most CHECKPW_MAX bytes) from fd 3,
 * looks the name up with getpwnam and getspnam, compares crypt(3) of the
 * password with the stored hash, and on success sets USER, LOGNAME, HOME and
 * SHELL, changes to the home directory, drops to the user's uid, gid and
 * groups, and execs argv[1...]. Runs as root (it must read /etc/shadow and
 * change uid); refuses root, locked, expired and passwordless accounts.
 * Exit 1 for a refused login, 2 for misuse, 111 for a temporary problem. */
#include <crypt.h>
#include <errno.h>
#include <pwd.h>
#include <shadow.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bio.h"
#include "priv.h"
#include "say.h"

#define FATAL "checkpassword: fatal: "
#define CHECKPW_MAX 512

static char data[CHECKPW_MAX + 1];

static noreturn void refuse(void)
{
  explicit_bzero(data, sizeof data);
  _exit(1);
}

static noreturn void die_temp(const char *what)
{
  explicit_bzero(data, sizeof data);
  die(111, FATAL, what, ": ", say_errno(), "\n", NULL);
}

/* notfound - whether a NULL from getpwnam/getspnam means "no such entry" */
static int notfound(int e)
{
  return e == 0 || e == ENOENT || e == ESRCH || e == EBADF || e == EPERM;
}

/* readdata - fd 3 to EOF into data; returns the length */
static size_t readdata(void)
{
  size_t n = 0;
  ssize_t r;

  for (;;) {
    r = bio_rawread(3, data + n, sizeof data - n, 0);
    if (r == -1) {
      if (errno == EBADF) die(2, FATAL, "nothing to read on descriptor 3\n", NULL);
      die_temp("unable to read descriptor 3");
    }
    if (r == 0) break;
    n += (size_t)r;
    if (n > CHECKPW_MAX) die(2, FATAL, "more than 512 bytes on descriptor 3\n", NULL);
  }
  close(3);
  return n;
}

/* samestr - compare without stopping early, so timing tells nothing */
static int samestr(const char *a, const char *b)
{
  size_t la = strlen(a), lb = strlen(b), i;
  unsigned char d = la != lb;
  for (i = 0; i < la && i < lb; ++i) d |= (unsigned char)(a[i] ^ b[i]);
  return !d;
}

static int str_isx(const char *h) { return h && h[0] == 'x' && !h[1]; }

/* hashof - the stored hash of pw; refuses locked and expired accounts */
static const char *hashof(const struct passwd *pw)
{
  struct spwd *sp;
  const char *h = pw->pw_passwd;

  if (str_isx(h)) {
    errno = 0;
    sp = getspnam(pw->pw_name);
    if (!sp) {
      /* passwd says the hash is in shadow; "not found" is believable only
       * as root, since other nss modules may overwrite the EACCES */
      if (notfound(errno) && geteuid() == 0) refuse();
      if (notfound(errno)) errno = EACCES;
      die_temp("unable to read the shadow password");
    }
    if (sp->sp_expire > 0 && (long)(time(0) / 86400) >= sp->sp_expire) refuse();
    h = sp->sp_pwdp;
  }
  if (!h || !*h || *h == '!' || *h == '*') refuse();
  return h;
}

static void setenv_or_die(const char *name, const char *value)
{
  if (setenv(name, value, 1) == -1) die_temp("unable to set the environment");
}

/* become - drop to pw's uid, gid and groups, then make sure it stuck */
static void become(const struct passwd *pw)
{
  if (geteuid() != 0) {
    if (geteuid() == pw->pw_uid && getuid() == pw->pw_uid) return;
    errno = EPERM;
    die_temp("not running as root, unable to switch user");
  }
  if (!priv_dropuser(pw->pw_name, pw->pw_uid, pw->pw_gid)) die_temp("unable to switch user");
}

int main(int argc, char **argv)
{
  struct passwd *pw;
  const char *name, *pass, *hash, *shell;
  char *c;
  size_t n, l;

  if (argc < 2) die(2, "checkpassword: usage: checkpassword program [ arg ... ]\n", NULL);
  n = readdata();
  name = data;
  l = strnlen(name, n);
  if (l == n) die(2, FATAL, "no login name on descriptor 3\n", NULL);
  pass = data + l + 1;
  if (strnlen(pass, n - l - 1) == n - l - 1) die(2, FATAL, "no password on descriptor 3\n", NULL);
  if (!*name || !*pass) refuse();

  errno = 0;
  pw = getpwnam(name);
  if (!pw) {
    if (notfound(errno)) refuse();
    die_temp("unable to read the password database");
  }
  if (pw->pw_uid == 0) refuse();           /* no mail sessions as root */
  hash = hashof(pw);
  errno = 0;
  c = crypt(pass, hash);
  if (!c || c[0] == '*') {
    if (errno == ENOMEM) die_temp("unable to compute the hash");
    refuse();
  }
  if (!samestr(c, hash)) refuse();
  explicit_bzero(data + l + 1, sizeof data - l - 1);
  explicit_bzero(c, strlen(c));

  shell = pw->pw_shell && *pw->pw_shell ? pw->pw_shell : "/bin/sh";
  setenv_or_die("USER", pw->pw_name);
  setenv_or_die("LOGNAME", pw->pw_name);
  setenv_or_die("HOME", pw->pw_dir);
  setenv_or_die("SHELL", shell);
  if (chdir(pw->pw_dir) == -1) die_temp("unable to change to the home directory");
  become(pw);
  execvp(argv[1], argv + 1);
  die_temp("unable to run the program");
}
