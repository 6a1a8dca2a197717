/* qmail-rcptcheck - would local delivery accept this address?
 * (qmail-rcptcheck(8)). qmail-smtpd runs it, as qmaild, for each RCPT
 * that qmail-send's rewriting (rewrite_rcpt) makes local, and answers
 * the client by its exit code: 0 accept, 100 refuse (delivery would
 * bounce with "no mailbox here by that name"), 111 cannot tell now.
 * The address is the one qmail-lspawn would get: after the locals and
 * virtualdomains rewriting, with any virtualdomains prepend.
 * Every rule is delivery's own code: users/cdb through assign_lookup and
 * qmail-getpw's rules through getpw_answer (as qmail-lspawn), then the
 * home directory test and the .qmail-ext / -default search through
 * dq_home, dq_file and dq_find (as qmail-local). It needs no privilege:
 * it reads users/cdb and the password database and stats files in the
 * user's home; anything it is not allowed to see is a temporary failure,
 * never a refusal. It reads no message and no .qmail file's contents, so
 * a .qmail that bounces when it runs (bouncesaying, a program exiting
 * 100) is accepted here.
 * Untrusted input: the address (from the SMTP client), used only as a
 * cdb key, a password database name and part of a .qmail file name that
 * is formed exactly as qmail-local forms it (doc/rcptcheck.md). */
#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "errtemp.h"
#include "sa.h"
#include "say.h"
#include "str.h"

#include "assign.h"
#include "auto.h"
#include "dotqmail.h"
#include "getpw.h"
#include "logsafe.h"

#define FATAL "qmail-rcptcheck: cannot tell now: "

/* the address, made safe for the log, to start every message */
static sa who = SA_ZERO;

/* 100 means "no mailbox" and nothing else, so a usage error is 111 */
static noreturn void die_usage(void) { die(111, "usage: qmail-rcptcheck [--] address\n", NULL); }
static noreturn void die_nomem(void) { die(111, FATAL, who.s, ": out of memory (#4.3.0)\n", NULL); }
static noreturn void die_temp(const char *why, const char *name)
{
  die(111, FATAL, who.s, ": ", why, name, ": ", say_errno(), " (#4.3.0)\n", NULL);
}
static noreturn void die_temp0(const char *why, const char *name)
{
  die(111, FATAL, who.s, ": ", why, name, " (#4.3.0)\n", NULL);
}

/* user - the account that controls local[0..len), as qmail-lspawn finds it */
static void user(assign *a, const char *local, size_t len)
{
  sa out = SA_ZERO;
  getpw_why w;
  int r;

  r = assign_lookup(a, local, len);
  if (r == -1) {
    if (errno == ENOMEM) die_nomem();
    die_temp("trouble reading ", "users/cdb");
  }
  if (r == 1) return;
  if (!getpw_answer(&out, local, len, &w)) {
    if (w.err) { errno = w.err; die_temp(w.why, w.name); }
    die_temp0(w.why, w.name);
  }
  r = assign_parse(a, out.s, out.len);
  if (r == -1) die_nomem();
  if (r == 0) die_temp0("unusable answer from ", "getpw");
  sa_free(&out);
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

/* mailbox - qmail-local's verdict for user a: returns when it would
 * accept, exits otherwise */
static void mailbox(const assign *a)
{
  struct stat st;
  sa fn = SA_ZERO, safeext = SA_ZERO;
  size_t defpos;
  int r, e = 0;

  /* qmail-local's own address needs nothing from the home but its mode:
   * .qmail or not, the mail is delivered */
  if (!a->dash.len) {
    if (stat(a->home.s, &st) == -1) die_temp("unable to stat home directory ", a->home.s);
  }
  else {
    if (chdir(a->home.s) == -1) die_temp("unable to switch to ", a->home.s);
    if (stat(".", &st) == -1) die_temp("unable to stat home directory ", a->home.s);
  }
  switch (dq_home(st.st_mode, auto_patrn)) {
    case DQ_WRITABLE: die_temp0("home directory is writable: ", a->home.s);
    case DQ_STICKY: die_temp0("home directory is sticky: ", a->home.s);
  }
  if (!a->dash.len) return;
  r = dq_find(&fn, &safeext, a->dash.s, a->ext.s, exists, &e, &defpos);
  if (r == -1) {
    if (e == -1) die_temp0(".qmail file is writable in ", a->home.s);
    if (!e) die_nomem();
    errno = e;
    die_temp("unable to stat a .qmail file in ", a->home.s);
  }
  /* the refusal is qmail-smtpd's to report; nothing to log here */
  if (r == DQ_NOMAILBOX) _exit(100);
  sa_free(&fn);
  sa_free(&safeext);
}

int main(int argc, char **argv)
{
  assign a = ASSIGN_ZERO;
  const char *addr;
  size_t len, at;

  if (argc >= 2 && !strcmp(argv[1], "--")) ++argv, --argc;
  if (argc != 2) die_usage();
  addr = argv[1];
  len = strlen(addr);
  if (!logsafe_cat(&who, addr, len) || !sa_0(&who)) die(111, FATAL, "out of memory (#4.3.0)\n", NULL);
  if (chdir(auto_home) == -1) die_temp("unable to switch to ", auto_home);
  at = byte_rchr(addr, len, '@');
  /* qmail-lspawn: an empty mailbox name is a trash address, delivered */
  if (!at) return 0;
  user(&a, addr, at);
  /* qmail-lspawn refuses root: the delivery is deferred */
  if (a.uid == 0) die_temp0("not allowed to deliver as root: ", a.user.s);
  mailbox(&a);
  assign_free(&a);
  return 0;
}
