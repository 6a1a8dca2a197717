/* qmail-qstat - count the messages in the queue, as qmail-send sees them
 * and qmail-qread lists them: a file in mess/N/ with an entry in todo/ (not
 * preprocessed yet) or info/N/. A mess/ file with neither is one a
 * qmail-queue is still writing or gave up on: not a message (yet). Reads
 * what only root and qmails may read. */
#include <dirent.h>
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "bio.h"
#include "fmt.h"
#include "say.h"
#include "auto.h"
#include "qfn.h"

#define FATAL "qmail-qstat: fatal: "

static noreturn void die_dir(const char *what, const char *fn)
{
  die(111, FATAL, "unable to ", what, " ", fn, ": ", say_errno(), "\n", NULL);
}

/* has - whether dir/name exists; trouble other than ENOENT is fatal */
static int has(const char *dir, const char *name)
{
  char fn[QFN_SIZE + 256];
  size_t n = strlen(dir);

  if (n + 1 + strlen(name) >= sizeof fn) return 0;
  memcpy(fn, dir, n);
  fn[n] = '/';
  strcpy(fn + n + 1, name);
  if (access(fn, F_OK) == 0) return 1;
  /* group qmail may not look into info/: count the message, as qmail did */
  if (errno == EACCES) return 1;
  if (errno != ENOENT && errno != ENOTDIR) die_dir("stat", fn);
  return 0;
}

/* count - the messages of mess subdirectory i; *todo counts those not
 * preprocessed yet */
static unsigned long count(unsigned long i, unsigned long *todo)
{
  char mess[QFN_SIZE], info[QFN_SIZE];
  DIR *d;
  struct dirent *e;
  unsigned long id, n = 0;
  size_t k;

  k = fmt_str(mess, "mess/");
  mess[k + fmt_ulong(mess + k, i)] = 0;
  k = fmt_str(info, "info/");
  info[k + fmt_ulong(info + k, i)] = 0;
  d = opendir(mess);
  if (!d) die_dir("open", mess);
  for (;;) {
    errno = 0;
    e = readdir(d);
    if (!e) break;
    if (!qfn_id(e->d_name, &id)) continue;
    if (has("todo", e->d_name)) { ++n; ++*todo; }
    else if (has(info, e->d_name)) ++n;
  }
  if (errno) die_dir("read", mess);
  closedir(d);
  return n;
}

static void line(bio *b, const char *what, unsigned long n)
{
  bio_puts(b, what);
  bio_putulong(b, n);
  bio_puts(b, "\n");
}

int main(void)
{
  char buf[256];
  bio out = BIO_INIT(1, buf, sizeof buf);
  unsigned long i, mess = 0, todo = 0;

  if (chdir(auto_home) == -1) die_dir("chdir to", auto_home);
  if (chdir("queue") == -1) die_dir("chdir to", "queue");
  for (i = 0; i < auto_split; ++i) mess += count(i, &todo);
  line(&out, "messages in queue: ", mess);
  line(&out, "messages in queue but not yet preprocessed: ", todo);
  if (!bio_flush(&out))
    die(111, FATAL, "unable to write output: ", say_errno(), "\n", NULL);
  return 0;
}
