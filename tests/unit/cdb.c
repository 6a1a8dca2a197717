#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
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

static void pack(unsigned char *p, uint32_t u)
{
  p[0] = (unsigned char)u; p[1] = (unsigned char)(u >> 8);
  p[2] = (unsigned char)(u >> 16); p[3] = (unsigned char)(u >> 24);
}

/* crafted - a 2048-byte header whose table for key says hslots slots at
 * hpos, then nslots slots (a foreign hash, a nonzero position) at 2048 */
static int crafted(const char *key, uint32_t hpos, uint32_t hslots, uint32_t nslots)
{
  unsigned char f[2048 + 8 * 64];
  uint32_t h = cdb_hash(key, strlen(key)), i;
  size_t n = 2048 + 8 * (size_t)nslots;
  int fd = tmpfile_fd();

  if (n > sizeof f) return -1;
  memset(f, 0, sizeof f);
  pack(f + (h & 255) * 8, hpos);
  pack(f + (h & 255) * 8 + 4, hslots);
  for (i = 0; i < nslots; ++i) {
    pack(f + 2048 + 8 * i, h ^ 1);   /* never our hash: the walk goes on */
    pack(f + 2052 + 8 * i, 2048);
  }
  if (fd == -1 || write(fd, f, n) != (ssize_t)n) return -1;
  return fd;
}

/* a slot count whose << 3 wraps in 32 bits made a lookup walk the same few
 * slots for hundreds of millions of steps: with u = (hash >> 8) and
 * hslots = 2^29 + u + 1, the walk starts at slot u, and hpos + (hslots << 3)
 * wraps to the end of slot u, so it cycles through slots 0..u until the
 * loop count reaches hslots. Now the table is checked against the file
 * size first (issue 10, defect 7). */
TEST(cdb_corrupt_slot_count)
{
  char key[32];
  struct cdb c;
  uint32_t u, i, n;
  int fd;

  /* a key whose table slot is near 0 (found by a search over "k%u") */
  strcpy(key, "k61879000");
  u = cdb_hash(key, strlen(key)) >> 8;
  CHECK(u < 16);
  n = u + 1;
  {
    const uint32_t bad[][3] = {
      { 2048, 0x20000000 + n, n }, { 2048, 0xe0000000 + n, n }, { 2048, n + 1, n },
      { 2049, n, n }, { 0, 1, n }, { 2048 + 8 * n, 1, n }, { 0xfffffff8, 1, n },
    };
    for (i = 0; i < sizeof bad / sizeof bad[0]; ++i) {
      fd = crafted(key, bad[i][0], bad[i][1], bad[i][2]);
      CHECK(fd != -1);
      cdb_init(&c, fd);
      errno = 0;
      CHECK(cdb_find(&c, key, strlen(key)) == -1 && errno == EPROTO);
      cdb_free(&c);
      close(fd);
    }
  }
  /* the same table with its true size is a clean miss, also when the
   * file is read with pread instead of mmap */
  fd = crafted(key, 2048, n, n);
  cdb_init(&c, fd);
  CHECK(cdb_find(&c, key, strlen(key)) == 0);
  munmap(c.map, c.size);
  c.map = 0;
  CHECK(cdb_find(&c, key, strlen(key)) == 0);
  close(fd);
  fd = crafted(key, 2048, 0x20000000 + n, n);
  cdb_init(&c, fd);
  munmap(c.map, c.size);
  c.map = 0;
  CHECK(cdb_find(&c, key, strlen(key)) == -1);
  close(fd);
}
