/* qmail-getpw - find the account that controls a local address, from the
 * system's password database (qmail-getpw(8)). qmail-lspawn runs it, as
 * qmailp, when users/cdb has no entry. Prints user, uid, gid, home, dash
 * and ext, each ending in NUL. Exit 0; 100 usage; 111 temporary failure,
 * with nothing on stdout. */
#include <errno.h>
#include <pwd.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bio.h"
#include "err.h"
#include "sa.h"
#include "say.h"
#include "str.h"

#include "auto.h"

#define FATAL "qmail-getpw: fatal: "
/* account names are assumed shorter than this, as qmail does */
#define USERLEN 32

/* lookup - getpwnam; a null result with a real error is temporary */
static struct passwd *lookup(const char *name)
{
  struct passwd *pw;

  errno = 0;
  pw = getpwnam(name);
  if (pw) return pw;
  switch (errno) {
    case 0: case ENOENT: case ESRCH: case EBADF: case EPERM: return 0;
  }
  die(111, FATAL, "unable to read the password entry of ", name, ": ", say_errno(), "\n", (char *)0);
}

static int hasupper(const char *s)
{
  for (; *s; ++s) if (*s >= 'A' && *s <= 'Z') return 1;
  return 0;
}

/* isuser - name is an account that may receive mail: nonzero uid, no
 * uppercase in its name, and a home directory that exists and it owns */
static struct passwd *isuser(const char *name)
{
  struct passwd *pw;
  struct stat st;

  pw = lookup(name);
  if (!pw || !pw->pw_uid || hasupper(pw->pw_name)) return 0;
  if (stat(pw->pw_dir, &st) == -1) {
    /* a home that is missing or hidden from us means "not a user" */
    if (err_temp(errno) && errno != EACCES && errno != EPERM)
      die(111, FATAL, "unable to stat home directory of ", name, ": ", say_errno(), "\n", (char *)0);
    return 0;
  }
  if (st.st_uid != pw->pw_uid) return 0;
  return pw;
}

int main(int argc, char **argv)
{
  char name[USERLEN];
  struct passwd *pw = 0;
  const char *local, *dash = "-", *ext;
  size_t len, n;
  sa out = SA_ZERO;

  if (argc < 2) die(100, "usage: qmail-getpw local\n", (char *)0);
  local = argv[1];
  len = strlen(local);

  /* the longest candidate first: all of local, then each part before a break */
  for (n = len + 1; n-- > 0;) {
    if (n < len && local[n] != auto_break[0]) continue;
    if (!n || n >= sizeof name) continue;
    memcpy(name, local, n);
    name[n] = 0;
    case_lowerb(name, n);
    pw = isuser(name);
    if (pw) break;
  }
  if (pw && n < len) ext = local + n + 1;
  else if (pw) { ext = local + len; dash = ""; }
  else {
    pw = lookup(auto_usera);
    if (!pw) die(111, FATAL, "unable to find the ", auto_usera, " user\n", (char *)0);
    ext = local;
  }

  /* six fields, each ending in NUL, written at once or not at all */
  if (!sa_cats(&out, pw->pw_name) || !sa_0(&out)
      || !sa_catulong(&out, (unsigned long)pw->pw_uid) || !sa_0(&out)
      || !sa_catulong(&out, (unsigned long)pw->pw_gid) || !sa_0(&out)
      || !sa_cats(&out, pw->pw_dir) || !sa_0(&out)
      || !sa_cats(&out, dash) || !sa_0(&out)
      || !sa_cats(&out, ext) || !sa_0(&out))
    die(111, FATAL, "out of memory\n", (char *)0);
  if (!bio_writeall(1, out.s, out.len, 0))
    die(111, FATAL, "unable to write output: ", say_errno(), "\n", (char *)0);
  sa_free(&out);
  return 0;
}
