/* qmail-qstat - count the messages in the queue, as qmail-send sees them
 * and qmail-qread lists them: a file in mess/N/ with an entry in todo/ (not
 * preprocessed yet) or info/N/. A mess/ file with neither is one a
 * qmail-queue is still writing or gave up on: not a message (yet). Reads
 * what only root and qmails may read. */
#include <dirent.h>
#include <errno.h>
#include <unistd.h>

#include "bio.h"
#include "fmt.h"
#include "say.h"
#include "auto.h"
#include "qfn.h"
#include "qids.h"

#define FATAL "qmail-qstat: fatal: "

static noreturn void die_dir(const char *what, const char *fn)
{
  die(111, FATAL, "unable to ", what, " ", fn, ": ", say_errno(), "\n", NULL);
}

/* readids - the ids in dir, sorted; 0 when we may not read dir (group
 * qmail may not look into info/: every message counts, as qmail did) */
static int readids(qids *l, const char *dir)
{
  if (qids_read(l, dir)) return 1;
  if (errno == ENOMEM || errno == ERANGE) die(111, FATAL, "out of memory\n", NULL);
  if (errno != EACCES) die_dir("read", dir);
  return 0;
}

/* count - the messages of mess subdirectory i: those with an entry in
 * todo/ (read before) or info/i; *todo counts the first kind. One
 * readdir of each directory, not one stat per message, so 100000
 * messages take a moment */
static unsigned long count(unsigned long i, const qids *todoids, int todoall, unsigned long *todo)
{
  static qids infoids = QIDS_ZERO;
  char mess[QFN_SIZE], info[QFN_SIZE];
  DIR *d;
  struct dirent *e;
  unsigned long id, n = 0;
  size_t k;
  int infoall;

  k = fmt_str(mess, "mess/");
  mess[k + fmt_ulong(mess + k, i)] = 0;
  k = fmt_str(info, "info/");
  info[k + fmt_ulong(info + k, i)] = 0;
  /* after mess/i: a message preprocessed meanwhile has its info by now */
  d = opendir(mess);
  if (!d) die_dir("open", mess);
  infoall = !readids(&infoids, info);
  for (;;) {
    errno = 0;
    e = readdir(d);
    if (!e) break;
    if (!qfn_id(e->d_name, &id)) continue;
    if (todoall || qids_has(todoids, id)) { ++n; ++*todo; }
    else if (infoall || qids_has(&infoids, id)) ++n;
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
  qids todoids = QIDS_ZERO;
  unsigned long i, mess = 0, todo = 0;
  int todoall;

  if (chdir(auto_home) == -1) die_dir("chdir to", auto_home);
  if (chdir("queue") == -1) die_dir("chdir to", "queue");
  /* todo/ first: a message leaves it only once its info/ file is there */
  todoall = !readids(&todoids, "todo");
  for (i = 0; i < auto_split; ++i) mess += count(i, &todoids, todoall, &todo);
  line(&out, "messages in queue: ", mess);
  line(&out, "messages in queue but not yet preprocessed: ", todo);
  if (!bio_flush(&out))
    die(111, FATAL, "unable to write output: ", say_errno(), "\n", NULL);
  return 0;
}
