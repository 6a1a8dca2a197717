#include <errno.h>
#include <pwd.h>
#include <string.h>
#include <sys/stat.h>

#include "errtemp.h"
#include "sa.h"
#include "str.h"

#include "auto.h"
#include "getpw.h"

static void fail(getpw_why *w, const char *why, const char *name, const char *tail, int witherrno)
{
  w->why = why;
  w->name = name;
  w->tail = tail;
  w->err = witherrno ? errno : 0;
}

static int hasupper(const char *s)
{
  for (; *s; ++s) if (*s >= 'A' && *s <= 'Z') return 1;
  return 0;
}

/* isuser - name is an account that may receive mail: nonzero uid, no
 * uppercase in its name, and a home directory that exists and it owns.
 * 1 with *out set, 0 not, -1 a temporary failure (w says why), -2 the
 * source cannot tell. */
static int isuser(const char *name, struct passwd **out, getpw_why *w, getpw_source *src)
{
  struct passwd *pw;
  struct stat st;
  int r;

  r = src(name, &pw, w);
  if (r != 1) return r;
  if (!pw->pw_uid || hasupper(pw->pw_name)) return 0;
  if (stat(pw->pw_dir, &st) == -1) {
    /* a home that is missing or hidden from us means "not a user" */
    if (!err_temp(errno) || errno == EACCES || errno == EPERM) return 0;
    fail(w, "unable to stat home directory of ", name, "", 1);
    return -1;
  }
  if (st.st_uid != pw->pw_uid) return 0;
  *out = pw;
  return 1;
}

int getpw_answer_from(sa *out, const char *local, size_t len, getpw_why *w, getpw_source *src)
{
  static char name[GETPW_USERLEN];   /* static: w->name may point here */
  struct passwd *pw = 0;
  const char *dash = "-", *ext;
  size_t n;
  int r = 0;

  w->why = 0;
  out->len = 0;
  /* the longest candidate first: all of local, then each part before a break */
  for (n = len + 1; n-- > 0;) {
    if (n < len && local[n] != auto_break[0]) continue;
    if (!n || n >= sizeof name) continue;
    memcpy(name, local, n);
    name[n] = 0;
    case_lowerb(name, n);
    r = isuser(name, &pw, w, src);
    if (r == -2) return -1;
    if (r == -1) return 0;
    if (r == 1) break;
  }
  if (r == 1 && n < len) { ext = local + n + 1; n = len - n - 1; }
  else if (r == 1) { ext = local + len; n = 0; dash = ""; }
  else {
    r = src(auto_usera, &pw, w);
    if (r == -2) return -1;
    if (r != 1) {
      if (!r) fail(w, "unable to find the ", auto_usera, " user", 0);
      return 0;
    }
    ext = local;
    n = len;
  }
  if (!sa_cats(out, pw->pw_name) || !sa_0(out)
      || !sa_catulong(out, (unsigned long)pw->pw_uid) || !sa_0(out)
      || !sa_catulong(out, (unsigned long)pw->pw_gid) || !sa_0(out)
      || !sa_cats(out, pw->pw_dir) || !sa_0(out)
      || !sa_cats(out, dash) || !sa_0(out)
      || !sa_catb(out, ext, n) || !sa_0(out)) {
    fail(w, "out of memory", "", "", 0);
    return 0;
  }
  return 1;
}
