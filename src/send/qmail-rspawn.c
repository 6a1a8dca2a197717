/* qmail-rspawn - run qmail-remote for qmail-send (qmail-rspawn(8)), as
 * qmailr. One job is one message to one or more recipients of one domain,
 * and one qmail-remote carries them all: `qmail-remote host sender r1 r2
 * ...`. $QMAILREMOTE names a replacement program. qmail-remote's recipient
 * reports (r, h or s, in argument order) and its message report (K, Z or
 * D) become one K/Z/D report per recipient for qmail-send. A qmail-remote
 * that cannot be run means "try again later", never a bounce. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "auto.h"
#include "ids.h"
#include "sa.h"
#include "spawn.h"
#include "spawnproto.h"
#include "str.h"
#include "waitchild.h"

/* qmail-remote keeps 5000 bytes of a reply; its texts add less than 1000 */
#define MAXRECORD 8000

static char qremote[4096];
static const char *prog;

/* all - the same report n times */
static void all(sa *out, const char *t, size_t n)
{
  while (n--) if (!sa_cats(out, t) || !sa_0(out)) return;
}

/* rank - 1 for a success, 0 temporary, -1 permanent */
static int rank(char c)
{
  return c == 'K' || c == 'r' ? 1 : c == 'Z' || c == 's' ? 0 : -1;
}

/* report - one K/Z/D report per recipient. Recipient i gets the i-th
 * r/h/s record; the message report is the first K/Z/D record. r takes
 * the message's result, h is permanent, s temporary; a recipient with no
 * record of its own (qmail-remote failed before RCPT) takes the message
 * report. The text is the recipient's, then the message's when that is
 * no better. */
static void report(sa *out, int wstat, const char *s, size_t len, int truncated, size_t n)
{
  const char *rec[SPAWNPROTO_MAXRCPT];
  size_t reclen[SPAWNPROTO_MAXRCPT];
  const char *msg = 0;
  size_t msglen = 0, nr = 0, k, i;
  (void)truncated;

  if (n > SPAWNPROTO_MAXRCPT) n = SPAWNPROTO_MAXRCPT;
  if (!WIFEXITED(wstat)) { all(out, "Zqmail-remote crashed.\n", n); return; }
  if (WEXITSTATUS(wstat) == 111) { all(out, "ZUnable to run qmail-remote.\n", n); return; }
  if (WEXITSTATUS(wstat)) { all(out, "DUnable to run qmail-remote.\n", n); return; }
  if (!len) { all(out, "Zqmail-remote produced no output.\n", n); return; }
  for (k = 0; k < len && !msg;) {
    const char *z = memchr(s + k, 0, len - k);
    size_t end = z ? (size_t)(z - s) : len;
    switch (s[k]) {
      case 'r': case 'h': case 's':
        if (nr < n) { rec[nr] = s + k; reclen[nr++] = end - k; }
        break;
      case 'K': case 'Z': case 'D':
        msg = s + k;
        msglen = end - k;
        break;
    }
    k = end + 1;
  }
  if (!msg) { all(out, "Zqmail-remote output was incomplete.\n", n); return; }
  for (i = 0; i < n; ++i) {
    int m = rank(msg[0]), r = m;
    char c;
    if (i < nr) {
      r = rank(rec[i][0]);
      if (r == 1) r = m;          /* accepted: the message decides */
    }
    c = r == 1 ? 'K' : r == 0 ? 'Z' : 'D';
    if (!sa_append(out, c)) return;
    if (i < nr && !sa_catb(out, rec[i] + 1, reclen[i] - 1)) return;
    if ((i >= nr || m <= rank(rec[i][0])) && !sa_catb(out, msg + 1, msglen - 1)) return;
    if (!sa_0(out)) return;
  }
}

/* the argument list, made in the parent: the child only execs */
static char *args[SPAWNPROTO_MAXRCPT + 4];

/* child - in a vfork child (spawn_vfork): only system calls, so the
 * parent's memory is left as it was */
static void child(int fdmess, int fdout)
{
  if (spawn_childsetup(fdmess, fdout) == -1) _exit(111);
  if (strchr(prog, '/')) execv(prog, args);
  else execvp(prog, args);
  /* a missing or broken qmail-remote is the admin's to fix: defer */
  _exit(111);
}

/* start - qmail-remote for one job, with vfork: the copy of our pages a
 * fork makes (and the faults that copy them back) is most of the cost of
 * a start when each message is one qmail-remote */
static pid_t start(int fdmess, int fdout, const char *sender, char *const *recips, size_t n)
{
  size_t i, len;

  if (n > SPAWNPROTO_MAXRCPT) n = SPAWNPROTO_MAXRCPT;
  len = strlen(recips[0]);
  args[0] = (char *)prog;
  args[1] = recips[0] + byte_rchr(recips[0], len, '@') + 1;
  args[2] = (char *)sender;
  for (i = 0; i < n; ++i) args[3 + i] = recips[i];
  args[3 + n] = 0;
  return spawn_vfork(child, fdmess, fdout);
}

int main(void)
{
  spawn_ops ops;
  spawn_batchops b;
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
  ops.maxoutput = 0;
  ops.messowner = uidq;
  ops.start = 0;
  ops.report = 0;
  b.maxrecord = MAXRECORD;
  b.start = start;
  b.report = report;
  return spawn_main_batch(&ops, &b);
}
