/* getpwnss - getpw's rules over the system's password database, through
 * getpwnam and so NSS: the source of qmail-getpw and qmail-rcptcheck.
 * Apart from getpw.c so that a program with no NSS (qmail-smtpd) links
 * the rules without getpwnam. */
#include <errno.h>
#include <pwd.h>

#include "getpw.h"

/* nss - getpwnam; a real error is temporary */
static int nss(const char *name, struct passwd **pw, getpw_why *w)
{
  errno = 0;
  *pw = getpwnam(name);
  if (*pw) return 1;
  switch (errno) {
    case 0: case ENOENT: case ESRCH: case EBADF: case EPERM: return 0;
  }
  w->why = "unable to read the password entry of ";
  w->name = name;
  w->tail = "";
  w->err = errno;
  return -1;
}

int getpw_answer(sa *out, const char *local, size_t len, getpw_why *w)
{
  /* nss always tells, so the answer is 1 or 0 */
  return getpw_answer_from(out, local, len, w, nss) == 1;
}
