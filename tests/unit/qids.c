#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "qids.h"

static void touch(const char *dir, const char *name)
{
  char fn[256];
  int fd;
  snprintf(fn, sizeof fn, "%s/%s", dir, name);
  fd = open(fn, O_WRONLY | O_CREAT | O_EXCL, 0600);
  CHECK(fd != -1);
  if (fd != -1) close(fd);
}

static void rm(const char *dir, const char *name)
{
  char fn[256];
  snprintf(fn, sizeof fn, "%s/%s", dir, name);
  unlink(fn);
}

TEST(qids_reads_sorted_ids_only)
{
  static const char *const names[] = { "12", "3", "x7", "4294967296", "100", ".tmp" };
  char dir[] = "/tmp/qidstestXXXXXX";
  qids l = QIDS_ZERO;
  size_t i;

  CHECK(mkdtemp(dir) != 0);
  for (i = 0; i < sizeof names / sizeof *names; ++i) touch(dir, names[i]);
  CHECK(qids_read(&l, dir) == 1);
  CHECK(l.len == 4);
  CHECK(l.len == 4 && l.x[0] == 3 && l.x[1] == 12 && l.x[2] == 100 && l.x[3] == 4294967296UL);
  CHECK(qids_has(&l, 12) && qids_has(&l, 3) && qids_has(&l, 4294967296UL));
  CHECK(!qids_has(&l, 7) && !qids_has(&l, 0) && !qids_has(&l, 13));
  /* read again: the list is replaced, not appended to */
  rm(dir, "12");
  CHECK(qids_read(&l, dir) == 1 && l.len == 3 && !qids_has(&l, 12));
  for (i = 0; i < sizeof names / sizeof *names; ++i) rm(dir, names[i]);
  CHECK(qids_read(&l, dir) == 1 && l.len == 0 && !qids_has(&l, 3));
  rmdir(dir);
  errno = 0;
  CHECK(qids_read(&l, dir) == 0 && errno == ENOENT);
  qids_free(&l);
  CHECK(l.x == 0 && l.len == 0);
}

TEST(qids_grows_past_many)
{
  qids l = QIDS_ZERO;
  unsigned long i;
  int ok = 1;
  for (i = 100000; i > 0; --i) ok &= qids_add(&l, i * 7);
  CHECK(ok && l.len == 100000);
  qids_sort(&l);
  CHECK(l.x[0] == 7 && l.x[99999] == 700000);
  CHECK(qids_has(&l, 7 * 5000) && !qids_has(&l, 7 * 5000 + 1));
  qids_free(&l);
}
