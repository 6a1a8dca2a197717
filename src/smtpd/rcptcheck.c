/* rcptcheck.c - qmail-rcptcheck's decision (rcptcheck.h, doc/rcptcheck.md).
 * Every rule is delivery's own code: users/cdb through assign_lookup and
 * qmail-getpw's rules through getpw_answer (as qmail-lspawn), then the
 * home directory test and the .qmail-ext / -default search through
 * dq_home, dq_file and dq_find (as qmail-local). It needs no privilege:
 * anything the caller is not allowed to see is "cannot tell", never a
 * refusal. It reads no .qmail file's contents, only stats candidates.
 * Untrusted input: the address, used only as a cdb key, a password
 * database name and part of a .qmail file name formed exactly as
 * qmail-local forms it. */
#include <errno.h>
#include <stdarg.h>
#include <sys/stat.h>
#include <unistd.h>

#include "errtemp.h"
#include "sa.h"
#include "say.h"
#include "str.h"

#include "assign.h"
#include "auto.h"
#include "dotqmail.h"
#include "logsafe.h"

#include "rcptcheck.h"

#define FATAL "qmail-rcptcheck: cannot tell now: "

int rcptcheck_temp(sa *log, const char *addr, size_t len, ...)
{
  va_list ap;
  const char *s;
  int ok;

  log->len = 0;
  ok = sa_cats(log, FATAL) && logsafe_cat(log, addr, len) && sa_cats(log, ": ");
  va_start(ap, len);
  while (ok && (s = va_arg(ap, const char *))) ok = sa_cats(log, s);
  va_end(ap);
  if (ok) ok = sa_0(log);
  if (!ok) log->len = 0;
  return RCPTCHECK_TEMP;
}

/* nomem - out of memory: an empty log (the caller's fallback line) */
static int nomem(sa *log)
{
  log->len = 0;
  return RCPTCHECK_TEMP;
}

/* user - the account that controls the local part, as qmail-lspawn finds it */
static int user(assign *a, const char *addr, size_t len, size_t at, rcptcheck_pw *pw, sa *log)
{
  sa out = SA_ZERO;
  getpw_why w;
  int r;

  r = assign_lookup(a, addr, at);
  if (r == -1) {
    if (errno == ENOMEM) return nomem(log);
    return rcptcheck_temp(log, addr, len, "trouble reading users/cdb: ", say_errno(), " (#4.3.0)\n", NULL);
  }
  if (r == 1) return RCPTCHECK_OK;
  if (!pw) return RCPTCHECK_NEEDPW;
  r = pw(&out, addr, at, &w);
  if (r == -1) {
    sa_free(&out);
    return RCPTCHECK_NEEDPW;
  }
  if (!r) {
    sa_free(&out);
    if (!w.err) return rcptcheck_temp(log, addr, len, w.why, w.name, " (#4.3.0)\n", NULL);
    errno = w.err;
    return rcptcheck_temp(log, addr, len, w.why, w.name, ": ", say_errno(), " (#4.3.0)\n", NULL);
  }
  r = assign_parse(a, out.s, out.len);
  sa_free(&out);
  if (r == -1) return nomem(log);
  if (r == 0) return rcptcheck_temp(log, addr, len, "unusable answer from getpw (#4.3.0)\n", NULL);
  return RCPTCHECK_OK;
}

/* exists - dq_find's test by stat, since we may not open the user's
 * files: 1 a .qmail that delivery would use, 0 none, -1 (errno kept in
 * *ctx) when delivery would defer or we cannot see */
static int exists(const char *fn, void *ctx)
{
  struct stat st;

  if (stat(fn, &st) == -1) {
    if (!err_temp(errno)) return 0;
    *(int *)ctx = errno;
    return -1;
  }
  switch (dq_file(st.st_mode, auto_patrn)) {
    case 0: return 0;
    case DQ_WRITABLE: *(int *)ctx = -1; return -1;
  }
  return 1;
}

/* mailbox - qmail-local's verdict for user a */
static int mailbox(const assign *a, const char *addr, size_t len, sa *log)
{
  struct stat st;
  sa fn = SA_ZERO, safeext = SA_ZERO;
  const char *h = a->home.s;
  size_t defpos;
  int r, e = 0;

  /* qmail-local's own address needs nothing from the home but its mode:
   * .qmail or not, the mail is delivered */
  if (!a->dash.len) {
    if (stat(h, &st) == -1) return rcptcheck_temp(log, addr, len, "unable to stat home directory ", h, ": ", say_errno(), " (#4.3.0)\n", NULL);
  }
  else {
    if (chdir(h) == -1) return rcptcheck_temp(log, addr, len, "unable to switch to ", h, ": ", say_errno(), " (#4.3.0)\n", NULL);
    if (stat(".", &st) == -1) return rcptcheck_temp(log, addr, len, "unable to stat home directory ", h, ": ", say_errno(), " (#4.3.0)\n", NULL);
  }
  switch (dq_home(st.st_mode, auto_patrn)) {
    case DQ_WRITABLE: return rcptcheck_temp(log, addr, len, "home directory is writable: ", h, " (#4.3.0)\n", NULL);
    case DQ_STICKY: return rcptcheck_temp(log, addr, len, "home directory is sticky: ", h, " (#4.3.0)\n", NULL);
  }
  if (!a->dash.len) return RCPTCHECK_OK;
  r = dq_find(&fn, &safeext, a->dash.s, a->ext.s, exists, &e, &defpos);
  sa_free(&fn);
  sa_free(&safeext);
  if (r == -1) {
    if (e == -1) return rcptcheck_temp(log, addr, len, ".qmail file is writable in ", h, " (#4.3.0)\n", NULL);
    if (!e) return nomem(log);
    errno = e;
    return rcptcheck_temp(log, addr, len, "unable to stat a .qmail file in ", h, ": ", say_errno(), " (#4.3.0)\n", NULL);
  }
  /* the refusal is qmail-smtpd's to report; nothing to log here */
  if (r == DQ_NOMAILBOX) return RCPTCHECK_NOMAILBOX;
  return RCPTCHECK_OK;
}

int rcptcheck(const char *addr, size_t len, rcptcheck_pw *pw, sa *log)
{
  assign a = ASSIGN_ZERO;
  size_t at;
  int r;

  at = byte_rchr(addr, len, '@');
  /* qmail-lspawn: an empty mailbox name is a trash address, delivered */
  if (!at) return RCPTCHECK_OK;
  r = user(&a, addr, len, at, pw, log);
  /* qmail-lspawn refuses root: the delivery is deferred */
  if (r == RCPTCHECK_OK && a.uid == 0)
    r = rcptcheck_temp(log, addr, len, "not allowed to deliver as root: ", a.user.s, " (#4.3.0)\n", NULL);
  if (r == RCPTCHECK_OK) r = mailbox(&a, addr, len, log);
  assign_free(&a);
  return r;
}
