/* qmail-local - deliver or forward one message for one user, following
 * the user's .qmail file (qmail-local(8), dot-qmail(5), qmail-command(8)).
 * It runs as the recipient (qmail-lspawn drops to that uid first); the
 * message is fd 0, which must be seekable because every instruction reads
 * it from the start. The report goes to fd 1 ("did F+W+P", "qp N") and
 * errors to fd 2; exit 0 success, 111 try again, 100 bounce.
 * Untrusted input: the message (read in fixed-size blocks, never a whole
 * line in memory), the sender and the recipient (exported to programs as
 * they are, never evaluated here). */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "bio.h"
#include "errtemp.h"
#include "fmt.h"
#include "open.h"
#include "sa.h"
#include "say.h"
#include "sig.h"
#include "str.h"
#include "auto.h"
#include "dotqmail.h"
#include "quote.h"
#include "mbox.h"
#include "qmail-local.h"

#define QMAIL_MAX (16UL << 20) /* a .qmail larger than this is a mistake */

static int flagdoit = 1;
static const char *user, *homedir, *local, *dash, *ext, *host, *sender, *aliasempty;

static sa recipient, dtline, rpline, ufline, safeext, qme, text, newsender, head;
static unsigned long count_file, count_forward, count_program;
static time_t started;   /* the time in UFLINE's From_ line */
static int ufdated;      /* UFLINE is made and in the environment */

noreturn void ql_die_nomem(void) { die(111, "Out of memory. (#4.3.0)\n", NULL); }
noreturn void ql_die_fork(void)
{
  die(111, "Unable to fork: ", say_errno(), ". (#4.3.0)\n", NULL);
}
noreturn void ql_die_read(void)
{
  die(111, "Unable to read message: ", say_errno(), ". (#4.3.0)\n", NULL);
}
static noreturn void die_usage(void)
{
  die(100, "qmail-local: usage: qmail-local [ -nN ] user homedir local dash ext "
      "domain sender defaultdelivery\n", NULL);
}
static noreturn void die_qmail(const char *fn)
{
  die(111, "Unable to open ", fn, ": ", say_errno(), ". (#4.3.0)\n", NULL);
}

void ql_rewind(void)
{
  if (lseek(0, 0, SEEK_SET) == -1)
    die(111, "Unable to rewind message: ", say_errno(), ". (#4.3.0)\n", NULL);
}

static void env(const char *name, const char *value)
{
  if (setenv(name, value, 1) == -1) ql_die_nomem();
}

static void envb(const char *name, const char *s, size_t n)
{
  sa x = SA_ZERO;
  if (!sa_copyb(&x, s, n) || !sa_0(&x)) ql_die_nomem();
  env(name, x.s);
  sa_free(&x);
}

/* nonl - CR and LF in s[from..len) become '_': whatever the caller passed
 * (qmail-send, or anyone running qmail-local), an address never ends or
 * splits a header line */
static void nonl(sa *s, size_t from)
{
  for (; from < s->len; ++from)
    if (s->s[from] == '\n' || s->s[from] == '\r') s->s[from] = '_';
}

/* checkhome - a writable home is a hole; a sticky one means "editing" */
static void checkhome(void)
{
  struct stat st;

  if (stat(".", &st) == -1)
    die(111, "Unable to stat home directory: ", say_errno(), ". (#4.3.0)\n", NULL);
  /* dq_home: the same test qmail-rcptcheck makes at RCPT time */
  switch (dq_home(st.st_mode, auto_patrn)) {
    case DQ_WRITABLE: die(111, "Uh-oh: home directory is writable. (#4.7.0)\n", NULL);
    case DQ_STICKY: break;
    default: return;
  }
  if (flagdoit)
    die(111, "Home directory is sticky: user is editing his .qmail file. (#4.2.1)\n", NULL);
  say(2, "Warning: home directory is sticky.\n", NULL);
}

/* makelines - RECIPIENT, DTLINE, RPLINE and UFLINE of qmail-command(8) */
static void makelines(void)
{
  size_t at;

  if (!sa_copys(&recipient, local) || !sa_cats(&recipient, "@")
      || !sa_cats(&recipient, host)) ql_die_nomem();
  if (!sa_copys(&dtline, "Delivered-To: ")) ql_die_nomem();
  at = dtline.len;
  if (!sa_cat(&dtline, &recipient)) ql_die_nomem();
  nonl(&dtline, at);
  if (!sa_cats(&dtline, "\n")) ql_die_nomem();

  if (!sa_copys(&rpline, "Return-Path: <")) ql_die_nomem();
  at = rpline.len;
  if (!quote_addr(&rpline, sender, strlen(sender))) ql_die_nomem();
  nonl(&rpline, at);
  if (!sa_cats(&rpline, ">\n")) ql_die_nomem();
}

/* ufdate - make UFLINE and export it, the first time an mbox or a program
 * needs it: formatting a date makes the C library read the time zone
 * file, which a maildir delivery has no use for */
static void ufdate(void)
{
  if (ufdated) return;
  if (!mbox_fromline(&ufline, sender, strlen(sender), started)) ql_die_nomem();
  envb("UFLINE", ufline.s, ufline.len);
  ufdated = 1;
}

/* loopcheck - bounce if the header already has exactly our Delivered-To
 * line. Reads in blocks and keeps no line: memory stays constant however
 * long a header line is (CVE-2005-1513), because a line can only match
 * while it is no longer than dtline; the header ends at the first empty
 * line. */
static void loopcheck(void)
{
  char buf[BIO_SIZE];
  ssize_t r, i;
  size_t pos = 0;
  int match = 1;

  ql_rewind();
  for (;;) {
    r = bio_rawread(0, buf, sizeof buf, 0);
    if (r == -1) ql_die_read();
    if (r == 0) return;
    for (i = 0; i < r; ++i) {
      char c = buf[i];
      if (match && (pos >= dtline.len || dtline.s[pos] != c)) match = 0;
      if (c != '\n') { if (pos <= dtline.len) ++pos; continue; }
      if (pos == 0) return;
      if (match && pos + 1 == dtline.len)
        die(100, "This message is looping: it already has my Delivered-To line. (#5.4.6)\n", NULL);
      pos = 0;
      match = 1;
    }
  }
}

/* setenvs - the rest of qmail-command(8)'s environment */
static void setenvs(void)
{
  const char *x;
  size_t i;

  env("SENDER", sender);
  envb("RPLINE", rpline.s, rpline.len);
  x = ext;
  env("EXT", x);
  x += strcspn(x, "-"); if (*x) ++x;
  env("EXT2", x);
  x += strcspn(x, "-"); if (*x) ++x;
  env("EXT3", x);
  x += strcspn(x, "-"); if (*x) ++x;
  env("EXT4", x);
  i = strlen(host);
  i = byte_rchr(host, i, '.'); envb("HOST2", host, i);
  i = byte_rchr(host, i, '.'); envb("HOST3", host, i);
  i = byte_rchr(host, i, '.'); envb("HOST4", host, i);
  unsetenv("DEFAULT");
}

/* found - dq_search's test: a regular file we can open. It stays open in
 * *(int *)ctx; a writable one defers, its x bit means forwards only. */
static int flagforwardonly;
static int found(const char *fn, void *ctx)
{
  struct stat st;
  int fd = open_read(fn);

  if (fd == -1) {
    if (err_temp(errno)) die_qmail(fn);
    return 0;
  }
  if (fstat(fd, &st) == -1) die_qmail(fn);
  switch (dq_file(st.st_mode, auto_patrn)) {
    case 0: close(fd); return 0;
    case DQ_WRITABLE: die(111, "Uh-oh: .qmail file is writable. (#4.7.0)\n", NULL);
  }
  flagforwardonly = !!(st.st_mode & 0100);
  *(int *)ctx = fd;
  return 1;
}

/* ownerfile - 1 when .qmail<dash><ext><suffix> exists */
static int ownerfile(const char *suffix)
{
  struct stat st;

  if (!dq_name(&qme, dash, safeext.s, safeext.len, suffix)) ql_die_nomem();
  if (stat(qme.s, &st) == 0) return 1;
  if (err_temp(errno)) die_qmail(qme.s);
  return 0;
}

/* instructions - the .qmail text into `text` (defaultdelivery if none) */
static void instructions(void)
{
  size_t defpos;
  int fd = -1, r;

  /* dq_find: the same choice qmail-rcptcheck makes at RCPT time */
  r = dq_find(&qme, &safeext, dash, ext, found, &fd, &defpos);
  if (r == -1) ql_die_nomem();
  if (r == DQ_NOMAILBOX) die(100, "Sorry, no mailbox here by that name. (#5.1.1)\n", NULL);
  if (r == DQ_FILE && defpos != DQ_NODEFAULT) env("DEFAULT", ext + defpos);

  /* forwards keep a bounce's sender; else the -owner convention */
  if (!sa_copys(&newsender, sender)) ql_die_nomem();
  if (*sender && strcmp(sender, "#@[]") && ownerfile("-owner")) {
    int verp = ownerfile("-owner-default");
    if (!sa_copys(&newsender, local) || !sa_cats(&newsender, verp ? "-owner-@" : "-owner@")
        || !sa_cats(&newsender, host) || (verp && !sa_cats(&newsender, "-@[]"))) ql_die_nomem();
  }
  if (!sa_0(&newsender)) ql_die_nomem();
  env("NEWSENDER", newsender.s);

  text.len = 0;
  if (fd != -1) {
    char buf[4096];
    ssize_t n;
    for (;;) {
      n = bio_rawread(fd, buf, sizeof buf, 0);
      if (n == 0) break;
      if (n == -1)
        die(111, "Trouble reading .qmail file: ", say_errno(), ". (#4.3.0)\n", NULL);
      if (text.len + (size_t)n > QMAIL_MAX)
        die(111, "Uh-oh: .qmail file is too large. (#4.7.0)\n", NULL);
      if (!sa_catb(&text, buf, (size_t)n)) ql_die_nomem();
    }
    close(fd);
  }
  if (!text.len) {
    if (!sa_copys(&text, aliasempty)) ql_die_nomem();
    flagforwardonly = 0;
  }
  if (!dq_finish(&text)) ql_die_nomem();
}

static void sayit(const char *type, const char *s)
{
  say(1, type, s, "\n", NULL);
}

/* follow - carry out the instructions in order; forwards go last */
static unsigned long follow(void)
{
  dq_line l;
  char **recips;
  size_t pos = 0, lineno = 0, nrecips = 0, nlines = 0, i;

  /* every forward is one line, so the line count bounds them */
  for (i = 0; i < text.len; ++i) if (text.s[i] == '\n') ++nlines;
  recips = calloc(nlines + 1, sizeof *recips);
  if (!recips) ql_die_nomem();
  while (dq_next(&text, &pos, &lineno, &l)) {
    switch (l.type) {
      case DQ_BLANK:
        if (l.lineno == 0)
          die(111, "Uh-oh: first line of .qmail file is blank. (#4.2.1)\n", NULL);
        continue;
      case DQ_COMMENT: case DQ_IGNORE:
        continue;
      case DQ_LIST:
        flagforwardonly = 1;
        continue;
      case DQ_NUL:
        die(111, "Uh-oh: .qmail file has a NUL byte. (#4.7.0)\n", NULL);
      case DQ_MBOX: case DQ_MAILDIR:
        ++count_file;
        if (flagforwardonly)
          die(111, "Uh-oh: .qmail has file delivery but has x bit set. (#4.7.0)\n", NULL);
        if (!flagdoit) { sayit(l.type == DQ_MBOX ? "mbox " : "maildir ", l.s); continue; }
        head.len = 0;
        if (l.type == DQ_MBOX) ufdate();
        if (l.type == DQ_MBOX && !sa_cat(&head, &ufline)) ql_die_nomem();
        if (!sa_cat(&head, &rpline) || !sa_cat(&head, &dtline)) ql_die_nomem();
        if (l.type == DQ_MBOX) ql_mbox(l.s, head.s, head.len);
        else ql_maildir(l.s, head.s, head.len);
        continue;
      case DQ_PROGRAM:
        ++count_program;
        if (flagforwardonly)
          die(111, "Uh-oh: .qmail has prog delivery but has x bit set. (#4.7.0)\n", NULL);
        if (!flagdoit) { sayit("program ", l.s); continue; }
        ufdate();
        if (ql_program(l.s)) goto done; /* 99: skip the rest, keep forwards */
        continue;
      case DQ_FORWARD:
        if (!l.len) die(111, "Uh-oh: .qmail has an empty forward address. (#4.7.0)\n", NULL);
        ++count_forward;
        if (!flagdoit) { sayit("forward ", l.s); continue; }
        recips[nrecips++] = l.s;
        continue;
    }
  }
done:
  if (nrecips) return ql_forward(newsender.s, recips, nrecips, dtline.s, dtline.len);
  return 0;
}

static void report(unsigned long qp)
{
  char f[FMT_ULONG], w[FMT_ULONG], p[FMT_ULONG], q[FMT_ULONG];

  f[fmt_ulong(f, count_file)] = 0;
  w[fmt_ulong(w, count_forward)] = 0;
  p[fmt_ulong(p, count_program)] = 0;
  q[fmt_ulong(q, qp)] = 0;
  say(1, "did ", f, "+", w, "+", p, "\n", NULL);
  if (qp) say(1, "qp ", q, "\n", NULL);
}

int main(int argc, char **argv)
{
  int i = 1;
  unsigned long qp;

  umask(077);
  sig_ignore(SIGPIPE);
  sig_ignore(SIGXFSZ); /* a file size limit is a write error, cut back like any */
  for (; i < argc && argv[i][0] == '-' && argv[i][1]; ++i) {
    const char *o = argv[i] + 1;
    if (!strcmp(o, "-")) { ++i; break; }
    for (; *o; ++o)
      if (*o == 'n') flagdoit = 0;
      else if (*o == 'N') flagdoit = 1;
      else die_usage();
  }
  if (argc - i != 8) die_usage();
  user = argv[i]; homedir = argv[i + 1]; local = argv[i + 2]; dash = argv[i + 3];
  ext = argv[i + 4]; host = argv[i + 5]; sender = argv[i + 6]; aliasempty = argv[i + 7];
  if (homedir[0] != '/') die_usage();

  if (chdir(homedir) == -1)
    die(111, "Unable to switch to ", homedir, ": ", say_errno(), ". (#4.3.0)\n", NULL);
  checkhome();
  started = time(0);
  makelines();
  env("HOST", host);
  env("HOME", homedir);
  env("USER", user);
  env("LOCAL", local);
  if (!sa_0(&recipient)) ql_die_nomem();
  env("RECIPIENT", recipient.s);
  envb("DTLINE", dtline.s, dtline.len);
  if (flagdoit) loopcheck();
  setenvs();
  instructions();
  qp = follow();
  report(qp);
  return 0;
}
