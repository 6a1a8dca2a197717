/* qmail-qstat - count the messages in the queue.
 * Every message has a file in mess/N/; a message that qmail-send has not
 * preprocessed yet also has one in todo/. Both directories are readable by
 * root and by the qmail group. */
#include <dirent.h>
#include <errno.h>
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

/* count - how many message files directory dir holds */
static unsigned long count(const char *dir)
{
  DIR *d;
  struct dirent *e;
  unsigned long id, n = 0;

  d = opendir(dir);
  if (!d) die_dir("open", dir);
  for (;;) {
    errno = 0;
    e = readdir(d);
    if (!e) break;
    if (qfn_id(e->d_name, &id)) ++n;
  }
  if (errno) die_dir("read", dir);
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
  char dir[QFN_SIZE];
  unsigned long i, mess = 0, todo;
  size_t n;

  if (chdir(auto_home) == -1) die_dir("chdir to", auto_home);
  if (chdir("queue") == -1) die_dir("chdir to", "queue");
  for (i = 0; i < auto_split; ++i) {
    n = fmt_str(dir, "mess/");
    dir[n + fmt_ulong(dir + n, i)] = 0;
    mess += count(dir);
  }
  todo = count("todo");
  line(&out, "messages in queue: ", mess);
  line(&out, "messages in queue but not yet preprocessed: ", todo);
  if (!bio_flush(&out))
    die(111, FATAL, "unable to write output: ", say_errno(), "\n", NULL);
  return 0;
}
