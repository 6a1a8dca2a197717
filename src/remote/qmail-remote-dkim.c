/* Signing on the way out: when control/dkimkeys exists, qmail-remote runs
 * qmail-dkimsign on the message (fd 0, the queue file, so seekable) and
 * keeps the DKIM-Signature header it prints, to send before the message.
 * The signer's failure defers the delivery with its reason (or bounces it
 * when the signer exits 100: a message it can never sign): mail for a
 * domain with a key never leaves unsigned. */
#include <errno.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "qmail-remote.h"
#include "bio.h"
#include "waitchild.h"
#include "auto.h"

#define MAXSIG 65536       /* header bytes taken from the signer */

static noreturn void fail_sign(const char *letter, const char *why, size_t n)
{
  size_t i;
  out(letter);
  out("DKIM signing failed: ");
  for (i = 0; i < n; ++i) {              /* the signer's line, printable only */
    char c = why[i];
    if (c == '\n' && i + 1 == n) break;
    outb(c < 32 || c > 126 ? "?" : &c, 1);
  }
  if (!n) out("qmail-dkimsign did not run (#4.3.0)");
  out("\n");
  zerodie();
}

static noreturn void temp_sign(const char *why, size_t n) { fail_sign("Z", why, n); }

void dkim_sign(sa *sig)
{
  static const char failstart[] = "unable to start qmail-dkimsign (#4.3.0)";
  char prog[4096], buf[4096];
  char *argv[2];
  off_t start;
  int pi[2], status;
  pid_t pid;
  ssize_t r;

  sig->len = 0;
  if (access("control/dkimkeys", F_OK) == -1) {
    if (errno == ENOENT) return;
    temp_sign("unable to read control/dkimkeys (#4.3.0)", 40);
  }
  start = lseek(0, 0, SEEK_CUR);
  if (start == -1) temp_sign("the message is not seekable (#4.3.0)", 36);
  if (strlen(auto_home) + sizeof "/bin/qmail-dkimsign" > sizeof prog) temp_sign(failstart, sizeof failstart - 1);
  strcpy(prog, auto_home);
  strcat(prog, "/bin/qmail-dkimsign");
  argv[0] = prog;
  argv[1] = 0;
  if (pipe(pi) == -1) temp_sign(failstart, sizeof failstart - 1);
  pid = fork();
  if (pid == -1) temp_sign(failstart, sizeof failstart - 1);
  if (pid == 0) {
    close(pi[0]);
    if (dup2(pi[1], 1) == -1) _exit(111);
    if (pi[1] != 1) close(pi[1]);
    execv(prog, argv);
    _exit(111);
  }
  close(pi[1]);
  for (;;) {
    r = bio_rawread(pi[0], buf, sizeof buf, 0);
    if (r <= 0) break;
    if (sig->len + (size_t)r > MAXSIG) continue;   /* drained, not kept */
    if (!sa_catb(sig, buf, (size_t)r)) temp_nomem();
  }
  close(pi[0]);
  if (wait_pid(pid, &status) == -1) temp_sign(failstart, sizeof failstart - 1);
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0 && sig->len <= MAXSIG) {
    if (lseek(0, start, SEEK_SET) != start) temp_read();   /* the message again from its start */
    return;
  }
  /* exit 100: the message cannot be signed, ever; anything else: later */
  fail_sign(WIFEXITED(status) && WEXITSTATUS(status) == 100 ? "D" : "Z", sig->s, sig->len > 1000 ? 1000 : sig->len);
}
