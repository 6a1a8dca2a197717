/* qmail-clean - remove queue files for qmail-send, as qmailq
 * (qmail-clean(8)). Reads commands ending in NUL on fd 0 and answers each
 * with one byte on fd 1:
 *   foop/<id>   unlink intd/<id> and mess/<split>/<id>
 *   todo/<id>   unlink intd/<id> and todo/<id>
 *   done/<id>   unlink intd/<id> and todo/<id>, then mess/<split>/<id>
 *               (a message finished before it was committed); mess
 *               stays when the others cannot go, so todo never names
 *               a message that is gone
 * '+' done (a file already gone counts as done), '!' an unlink failed,
 * 'x' a command it does not understand. Now and then it also removes
 * pid/ files that a dead qmail-queue left behind: qmail-queue holds a
 * lock on its pid file for as long as it runs. */
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "auto.h"
#include "bio.h"
#include "lock.h"
#include "open.h"
#include "qfn.h"
#include "sa.h"
#include "sig.h"

#define OSSIFIED 129600   /* 36 hours, more than qmail-queue's 24 */
#define PIDGRACE 60       /* seconds a new pid/ file may stay unlocked */
#define MAXLINE 100

static char inbuf[1024];
static bio in;

static void respond(char c)
{
  if (!bio_writeall(1, &c, 1, 0)) _exit(100);
}

static void cleanpid(void)
{
  DIR *dir = opendir("pid");
  struct dirent *e;
  struct stat st;
  time_t now = time(0);
  char fn[512];
  int fd;

  if (!dir) return;
  while ((e = readdir(dir))) {
    if (e->d_name[0] == '.') continue;
    if (strlen(e->d_name) + sizeof "pid/" > sizeof fn) continue;
    strcpy(fn, "pid/");
    strcat(fn, e->d_name);
    fd = open_read(fn);
    if (fd == -1) continue;
    /* a qmail-queue locks its file a moment after creating it: give it
     * that moment; after it, unlocked means its qmail-queue is gone (and
     * very old means one of another make, which did not lock) */
    if (fstat(fd, &st) == 0 && now >= st.st_mtime + PIDGRACE &&
        (lock_exnb(fd) == 0 || now >= st.st_atime + OSSIFIED))
      unlink(fn);
    close(fd);
  }
  closedir(dir);
}

/* gone - unlink fn; a missing file is fine */
static int gone(const char *fn)
{
  return unlink(fn) == 0 || errno == ENOENT;
}

static char docmd(const sa *line)
{
  char fn[QFN_SIZE];
  unsigned long id;
  size_t n = line->len - 1;   /* without the NUL */

  if (n < 6 || n > MAXLINE) return 'x';
  if (!memcmp(line->s, "foop/", 5) || !memcmp(line->s, "todo/", 5) || !memcmp(line->s, "done/", 5)) {
    if (!qfn_id(line->s + 5, &id)) return 'x';
  }
  else return 'x';
  qfn_fmt(fn, "intd", id, 0);
  if (!gone(fn)) return '!';
  if (line->s[0] == 'f') qfn_fmt(fn, "mess", id, 1);
  else qfn_fmt(fn, "todo", id, 0);
  if (!gone(fn)) return '!';
  if (line->s[0] == 'd') {
    qfn_fmt(fn, "mess", id, 1);
    if (!gone(fn)) return '!';
  }
  return '+';
}

int main(void)
{
  sa line = SA_ZERO;
  unsigned count = 0;

  if (chdir(auto_home) == -1 || chdir("queue") == -1) _exit(111);
  sig_ignore(SIGPIPE);
  bio_init(&in, 0, inbuf, sizeof inbuf);
  for (;;) {
    int r;
    if (count-- == 0) { cleanpid(); count = 30; }
    line.len = 0;
    r = bio_getln(&in, &line, 0, MAXLINE + 1);
    if (r == -2) {                   /* too long: skip to its end */
      do { line.len = 0; r = bio_getln(&in, &line, 0, MAXLINE + 1); } while (r == -2);
      if (r != 1) break;
      respond('x');
      continue;
    }
    if (r != 1) break;
    respond(docmd(&line));
  }
  return 0;
}
