#include <errno.h>
#include <string.h>

#include "harness.h"
#include "syncdir.h"

TEST(syncdir_existing_and_missing)
{
  CHECK(syncdir(".") == 0);
  CHECK(syncdir("/") == 0);
  errno = 0;
  CHECK(syncdir("/nonexistent-syncdir-test") == -1 && errno == ENOENT);
  errno = 0;
  CHECK(syncdir("/dev/null") == -1 && errno == ENOTDIR);
}

TEST(syncdir_of_names)
{
  char fn[1200];
  size_t n = 0;

  CHECK(syncdir_of("file-in-cwd") == 0);          /* "." */
  CHECK(syncdir_of("/etc") == 0);                 /* "/" */
  CHECK(syncdir_of("/tmp/not-there-either") == 0);
  errno = 0;
  CHECK(syncdir_of("/nonexistent-syncdir-test/x") == -1 && errno == ENOENT);
  /* a directory part longer than the stack buffer */
  memcpy(fn, "/tmp", 4); n = 4;
  while (n < 1000) { memcpy(fn + n, "/.", 2); n += 2; }
  memcpy(fn + n, "/x", 3);
  CHECK(syncdir_of(fn) == 0);
  memcpy(fn + 1, "nonexistent", 11);
  errno = 0;
  CHECK(syncdir_of(fn) == -1 && errno == ENOENT);
}
