/* qmail-showctl - explain the configuration: the settings compiled in from
 * the conf-* files, then every control file of qmail-control(5) with its
 * value or default and what it means, then any other file in control/.
 * Reads only; needs no privileges beyond reading control/. */
#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bio.h"
#include "fmt.h"
#include "grow.h"
#include "sa.h"
#include "say.h"
#include "scan.h"
#include "str.h"
#include "auto.h"
#include "control.h"
#include "ids.h"

enum kind { NUM, TEXT, HOST, LIST, LOCALS, ME, MRH, MRHCDB };

struct ctl {
  const char *name;
  enum kind kind;
  const char *def;    /* NUM, TEXT: default value; LIST, MRH: text if absent */
  const char *pre;    /* before the value */
  const char *post;   /* after the value */
  const char *zero;   /* NUM: the whole text when the value is 0 */
};

/* in the order of qmail-control(5) and qmail-showctl */
static const struct ctl ctls[] = {
  { "badmailfrom", LIST, "Every envelope sender is accepted.", "Envelope sender refused: ", ".", 0 },
  { "bouncefrom", TEXT, "MAILER-DAEMON", "Bounces come from user ", ".", 0 },
  { "bouncehost", HOST, 0, "Bounces come from host ", ".", 0 },
  { "concurrencylocal", NUM, "10", "At most ", " local deliveries at once",
    "No local deliveries: they are held in the queue" },
  { "concurrencyremote", NUM, "20", "At most ", " remote deliveries at once",
    "No remote deliveries: they are held in the queue" },
  { "databytes", NUM, "0", "SMTP messages may have at most ", " bytes",
    "SMTP messages may have any size" },
  { "defaultdomain", HOST, 0, "Hosts without dots get the domain ", ".", 0 },
  { "defaulthost", HOST, 0, "Addresses without a host get ", ".", 0 },
  { "doublebouncehost", HOST, 0, "Double bounces go to host ", ".", 0 },
  { "doublebounceto", TEXT, "postmaster", "Double bounces go to user ", ".", 0 },
  { "envnoathost", HOST, 0, "Envelope recipients without @ get ", ".", 0 },
  { "helohost", HOST, 0, "The SMTP client says HELO ", ".", 0 },
  { "idhost", HOST, 0, "Message-IDs end in ", ".", 0 },
  { "localiphost", HOST, 0, "Addresses at a local IP address are rewritten to ", ".", 0 },
  { "locals", LOCALS, 0, "Delivered here: mail for ", ".", 0 },
  { "maxrcpt", NUM, "1000", "An SMTP message may have at most ", " recipients", 0 },
  { "me", ME, 0, "This host is called ", ".", 0 },
  { "percenthack", LIST, "No domain has the percent hack.", "user%host@", " is rewritten to user@host.", 0 },
  { "plusdomain", HOST, 0, "A host ending in + gets ", ".", 0 },
  { "qmqpservers", LIST, "No QMQP servers.", "QMQP server: ", ".", 0 },
  { "queuelifetime", NUM, "604800", "Messages stay in the queue for up to ", " seconds", 0 },
  { "rcpthosts", LIST, "SMTP and QMTP clients may send mail to no recipient with a domain (qmail would be an open relay).",
    "SMTP clients may send mail to recipients at ", ".", 0 },
  { "morercpthosts", MRH, "No effect.", "SMTP clients may also send mail to recipients at ", ".", 0 },
  { "morercpthosts.cdb", MRHCDB, 0, 0, 0, 0 },
  { "remotebatch", NUM, "100", "One SMTP transaction carries at most ", " recipients of a domain",
    "One SMTP transaction carries at most 1 recipient" },
  { "smtpgreeting", HOST, 0, "The SMTP server greets with 220 ", ".", 0 },
  { "smtproutes", LIST, "No SMTP routes: every host is found in the DNS.", "SMTP route: ", "", 0 },
  { "timeoutconnect", NUM, "60", "The SMTP client waits ", " seconds for a connection", 0 },
  { "timeoutremote", NUM, "1200", "The SMTP client waits ", " seconds for the server", 0 },
  { "timeoutsmtpd", NUM, "1200", "The SMTP server waits ", " seconds for the client", 0 },
  { "virtualdomains", LIST, "No virtual domains.", "Virtual domain: ", "", 0 },
};
#define NCTLS (sizeof ctls / sizeof ctls[0])

static char outbuf[BIO_SIZE];
static bio out = BIO_INIT(1, outbuf, sizeof outbuf);
static sa me = SA_ZERO;
static sa val = SA_ZERO;
static int flagtrouble;
static int haverh;  /* control/rcpthosts exists */

static int flagwrite;      /* an output write failed */

static void puts_(const char *s) { if (!bio_puts(&out, s)) flagwrite = 1; }
static void putnum(unsigned long u) { if (!bio_putulong(&out, u)) flagwrite = 1; }

/* safe - a value from a file, with unprintable bytes shown as ? */
static void safe(const char *s, size_t n)
{
  size_t i;
  for (i = 0; i < n; ++i) {
    char c = (s[i] >= 32 && s[i] <= 126) ? s[i] : '?';
    if (!bio_put(&out, &c, 1)) flagwrite = 1;
  }
}

/* badnum - a number file holding something else: the programs warn
 * and use the default, and so does this listing */
static void badnum(const char *fn, const char *value)
{
  (void)fn;
  puts_("(Not a number: `");
  puts_(value);
  puts_("'.) ");
}

static void oops(void)
{
  puts_("Oops! Unable to read this file: ");
  puts_(say_errno());
  puts_(".\n");
  flagtrouble = 1;
}

/* show_list - a file of lines, one explained line each, or its default */
static void show_list(const struct ctl *c, const char *fn)
{
  size_t i, j;

  switch (control_readfile(&val, fn)) {
    case -1: oops(); return;
    case 0:
      puts_("(Default.) ");
      if (c->kind == LOCALS) { puts_(c->pre); safe(me.s, me.len); puts_(c->post); }
      else puts_(c->def);
      puts_("\n");
      return;
  }
  if (c->kind == MRH && !haverh) {
    puts_("No effect: without rcpthosts every recipient is accepted.\n");
    return;
  }
  puts_("\n");
  for (i = j = 0; j < val.len; ++j)
    if (!val.s[j]) {
      puts_(c->pre);
      safe(val.s + i, j - i);
      puts_(c->post);
      puts_("\n");
      i = j + 1;
    }
}

static void show_mrhcdb(void)
{
  struct stat txt, cdb;
  int havetxt = stat("control/morercpthosts", &txt) == 0;
  int havecdb = stat("control/morercpthosts.cdb", &cdb) == 0;

  if (!havetxt && !havecdb) puts_("(Default.) No effect.\n");
  else if (!havecdb) puts_("Oops! morercpthosts has not been compiled; run qmail-newmrh.\n");
  else if (!havetxt) puts_("Oops! morercpthosts.cdb is there but morercpthosts is not.\n");
  else if (txt.st_mtime > cdb.st_mtime) puts_("Oops! morercpthosts changed after morercpthosts.cdb was made; run qmail-newmrh.\n");
  else puts_("Made after the last change to morercpthosts.\n");
}

/* show - one control file: its value or default, and what it means */
static void show(const struct ctl *c)
{
  sa fn = SA_ZERO;
  unsigned long u;
  int r;

  if (!sa_copys(&fn, "control/") || !sa_cats(&fn, c->name) || !sa_0(&fn))
    die(111, "qmail-showctl: fatal: out of memory\n", NULL);
  puts_("\n");
  puts_(c->name);
  puts_(": ");
  switch (c->kind) {
    case NUM:
      scan_ulong(c->def, &u);
      r = control_readnum(&u, fn.s, badnum);
      if (r == -1) { oops(); break; }
      if (r != 1) puts_("(Default.) ");
      if (u == 0 && c->zero) puts_(c->zero);
      else { puts_(c->pre); putnum(u); puts_(c->post); }
      if (str_starts(c->name, "concurrency") && r == 1 && u > auto_spawn) {
        puts_(", but no more than ");
        putnum(auto_spawn);
      }
      puts_(".\n");
      break;
    case TEXT: case HOST:
      r = control_rldef(&val, fn.s, c->kind == TEXT ? c->def : 0);
      if (r == -1) { oops(); break; }
      if (r == 0) {
        puts_("(Default.) ");
        if (c->kind == HOST && !sa_copy(&val, &me)) die(111, "qmail-showctl: fatal: out of memory\n", NULL);
      }
      puts_(c->pre);
      safe(val.s, val.len);
      puts_(c->post);
      puts_("\n");
      break;
    case ME:
      r = control_readline(&val, fn.s);
      if (r == -1) { oops(); break; }
      if (r == 0 || !val.len) puts_("(Default: the system's host name.) ");
      puts_(c->pre);
      safe(me.s, me.len);
      puts_(c->post);
      puts_("\n");
      break;
    case LIST: case LOCALS: case MRH:
      show_list(c, fn.s);
      if (!strcmp(c->name, "rcpthosts")) haverh = access(fn.s, F_OK) == 0;
      break;
    case MRHCDB:
      show_mrhcdb();
      break;
  }
  sa_free(&fn);
}

static int cmpstr(const void *a, const void *b)
{
  return strcmp(*(char *const *)a, *(char *const *)b);
}

/* show_others - every other file in control/, in name order */
static void show_others(void)
{
  DIR *d;
  struct dirent *e;
  char **names = 0, **n;
  size_t len = 0, a = 0, i;

  d = opendir("control");
  if (!d) { puts_("\nOops! Unable to list control: "); puts_(say_errno()); puts_(".\n"); flagtrouble = 1; return; }
  while ((e = readdir(d))) {
    if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
    for (i = 0; i < NCTLS; ++i) if (!strcmp(e->d_name, ctls[i].name)) break;
    if (i < NCTLS) continue;
    if (!(n = grow(names, &a, len + 1, sizeof *names)))
      die(111, "qmail-showctl: fatal: out of memory\n", NULL);
    names = n;
    if (!(names[len] = strdup(e->d_name))) die(111, "qmail-showctl: fatal: out of memory\n", NULL);
    ++len;
  }
  closedir(d);
  if (len) qsort(names, len, sizeof *names, cmpstr);
  for (i = 0; i < len; ++i) {
    puts_("\n");
    safe(names[i], strlen(names[i]));
    puts_(": Not a control file of this suite; nothing reads it.\n");
    free(names[i]);
  }
  free(names);
}

static void show_id(const char *name, int group, int last)
{
  uid_t u;
  gid_t g;
  if (group ? ids_gid(name, &g) : ids_uid(name, &u)) putnum(group ? (unsigned long)g : (unsigned long)u);
  else { puts_("(no "); puts_(name); puts_(")"); flagtrouble = 1; }
  puts_(last ? ".\n" : ", ");
}

int main(void)
{
  const char *users[8] = { auto_usera, auto_userd, auto_userl, auto_usero,
                           auto_userp, auto_userq, auto_userr, auto_users };
  size_t i;

  puts_("qmail home directory: "); puts_(auto_home); puts_(".\n");
  puts_("user-ext delimiter: "); puts_(auto_break); puts_(".\n");
  puts_("paternalism (in decimal): "); putnum(auto_patrn); puts_(".\n");
  puts_("silent concurrency limit: "); putnum(auto_spawn); puts_(".\n");
  puts_("subdirectory split: "); putnum(auto_split); puts_(".\n");
  puts_("user ids: ");
  for (i = 0; i < 8; ++i) show_id(users[i], 0, i == 7);
  puts_("group ids: ");
  show_id(auto_groupn, 1, 0);
  show_id(auto_groupq, 1, 1);

  if (chdir(auto_home) == -1) {
    puts_("Oops! Unable to chdir to "); puts_(auto_home); puts_(": "); puts_(say_errno()); puts_(".\n");
    bio_flush(&out);
    return 111;
  }
  if (control_me(&me) == -1) { puts_("Oops! Unable to read control/me.\n"); flagtrouble = 1; }
  for (i = 0; i < NCTLS; ++i) show(&ctls[i]);
  show_others();
  if (!bio_flush(&out) || flagwrite) die(111, "qmail-showctl: fatal: unable to write output: ", say_errno(), "\n", NULL);
  return flagtrouble ? 111 : 0;
}
