/* qmail-rspawn - run qmail-remote for qmail-send, one child per delivery
 * (qmail-rspawn(8)), as qmailr. $QMAILREMOTE names a replacement program.
 * qmail-remote's recipient report (r, h or s) and message report (K, Z or
 * D) become one K/Z/D report for qmail-send. A qmail-remote that cannot be
 * run means "try again later", never a bounce. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "auto.h"
#include "ids.h"
#include "sa.h"
#include "spawn.h"
#include "wait.h"

#define MAXOUTPUT 65536

static char qremote[4096];
static const char *prog;

/* report - combine qmail-remote's reports into K, Z or D with text */
static void report(sa *out, int wstat, const char *s, size_t len, int truncated)
{
  size_t k, first_end;
  int result = 0, found = 0, rcpt;
  const char *next;
  (void)truncated;

  if (!WIFEXITED(wstat)) { sa_cats(out, "Zqmail-remote crashed.\n"); return; }
  if (WEXITSTATUS(wstat) == 111) { sa_cats(out, "ZUnable to run qmail-remote.\n"); return; }
  if (WEXITSTATUS(wstat)) { sa_cats(out, "DUnable to run qmail-remote.\n"); return; }
  if (!len) { sa_cats(out, "Zqmail-remote produced no output.\n"); return; }
  /* the message report: the first record that begins K, Z or D */
  for (k = 0; k < len;) {
    const char *z = memchr(s + k, 0, len - k);
    size_t end = z ? (size_t)(z - s) : len;
    if (s[k] == 'K') { result = 1; found = 1; break; }
    if (s[k] == 'Z') { result = 0; found = 1; break; }
    if (s[k] == 'D') { result = -1; found = 1; break; }
    k = end + 1;
  }
  if (!found) { sa_cats(out, "Zqmail-remote output was incomplete.\n"); return; }
  /* the recipient report overrides it when it is worse */
  rcpt = result;
  if (s[0] == 's') rcpt = 0;
  if (s[0] == 'h') rcpt = -1;
  if (!sa_append(out, rcpt == 1 ? 'K' : rcpt == 0 ? 'Z' : 'D')) { out->len = 0; return; }
  next = memchr(s, 0, len);
  first_end = next ? (size_t)(next - s) : len;
  if (first_end > 1 && !sa_catb(out, s + 1, first_end - 1)) { out->len = 0; return; }
  k = first_end + 1;
  if (result <= rcpt && k < len && (s[k] == 'K' || s[k] == 'Z' || s[k] == 'D')) {
    const char *z = memchr(s + k, 0, len - k);
    size_t end = z ? (size_t)(z - s) : len;
    if (!sa_catb(out, s + k + 1, end - k - 1)) out->len = 0;
  }
}

static pid_t start(int fdmess, int fdout, const char *sender, const char *recip, size_t at)
{
  char *args[5];
  pid_t pid = fork();

  if (pid != 0) return pid;
  if (spawn_childsetup(fdmess, fdout) == -1) _exit(111);
  args[0] = (char *)prog;
  args[1] = (char *)recip + at + 1;
  args[2] = (char *)sender;
  args[3] = (char *)recip;
  args[4] = 0;
  if (strchr(prog, '/')) execv(prog, args);
  else execvp(prog, args);
  /* a missing or broken qmail-remote is the admin's to fix: defer */
  _exit(111);
}

int main(void)
{
  spawn_ops ops;
  uid_t uidq;

  prog = getenv("QMAILREMOTE");
  if (!prog || !*prog) {
    if (strlen(auto_home) + sizeof "/bin/qmail-remote" > sizeof qremote) _exit(111);
    strcpy(qremote, auto_home);
    strcat(qremote, "/bin/qmail-remote");
    prog = qremote;
  }
  if (!ids_uid(auto_userq, &uidq)) _exit(111);
  ops.limit = auto_spawn;
  ops.maxoutput = MAXOUTPUT;
  ops.messowner = uidq;
  ops.start = start;
  ops.report = report;
  return spawn_main(&ops);
}
