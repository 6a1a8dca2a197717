#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "cdb.h"
#include "cdb_make.h"

static int tmpfile_fd(void)
{
  char name[] = "/tmp/cdbtestXXXXXX";
  int fd = mkstemp(name);
  if (fd != -1) unlink(name);
  return fd;
}

TEST(cdb_roundtrip)
{
  struct cdb_make m;
  struct cdb c;
  char key[32], data[64];
  int fd = tmpfile_fd(), i, r;

  CHECK(fd != -1);
  CHECK(cdb_make_start(&m, fd) == 0);
  for (i = 0; i < 1000; ++i) {
    snprintf(key, sizeof key, "key%d", i);
    snprintf(data, sizeof data, "data for %d", i);
    CHECK(cdb_make_add(&m, key, strlen(key), data, strlen(data)) == 0);
  }
  CHECK(cdb_make_add(&m, "dup", 3, "one", 3) == 0);
  CHECK(cdb_make_add(&m, "dup", 3, "two", 3) == 0);
  CHECK(cdb_make_add(&m, "", 0, "empty", 5) == 0);
  CHECK(cdb_make_finish(&m) == 0);

  cdb_init(&c, fd);
  for (i = 0; i < 1000; i += 37) {
    snprintf(key, sizeof key, "key%d", i);
    snprintf(data, sizeof data, "data for %d", i);
    r = cdb_find(&c, key, strlen(key));
    CHECK(r == 1);
    if (r == 1) {
      char got[64];
      CHECK(cdb_datalen(&c) == strlen(data));
      CHECK(cdb_read(&c, got, cdb_datalen(&c), cdb_datapos(&c)) == 0);
      CHECK(memcmp(got, data, strlen(data)) == 0);
    }
  }
  CHECK(cdb_find(&c, "key1000", 7) == 0);
  CHECK(cdb_find(&c, "nokey", 5) == 0);
  CHECK(cdb_find(&c, "", 0) == 1 && cdb_datalen(&c) == 5);
  CHECK(cdb_find(&c, "dup", 3) == 1);
  CHECK(cdb_findnext(&c, "dup", 3) == 1);
  CHECK(cdb_findnext(&c, "dup", 3) == 0);
  cdb_free(&c);
  close(fd);
}

/* a truncated or garbage file must give -1 or 0, never a crash */
TEST(cdb_corrupt)
{
  struct cdb c;
  char junk[2100];
  int fd = tmpfile_fd();
  memset(junk, 0xff, sizeof junk);
  CHECK(write(fd, junk, sizeof junk) == (ssize_t)sizeof junk);
  cdb_init(&c, fd);
  CHECK(cdb_find(&c, "a", 1) == -1);
  cdb_free(&c);
  close(fd);
  fd = tmpfile_fd();
  cdb_init(&c, fd);
  CHECK(cdb_find(&c, "a", 1) == -1);
  cdb_free(&c);
  close(fd);
}
