/* cdb - lookups in a corrupt cdb file: the input is the file. A few keys
 * (and the first bytes after the header as a key) are looked up with every
 * match read; each answer must lie inside the file, and the number of
 * matches is bounded. All lookups on a file of at most 1 MB must end
 * within 2 seconds (SIGALRM kills the process otherwise: a corrupt slot
 * count must not make a lookup loop for billions of steps). */
#include <stdint.h>
#include <unistd.h>

#include "fuzz.h"
#include "cdb.h"

static void look(struct cdb *c, size_t size, const char *k, size_t n)
{
  char buf[256];
  int r, i;

  cdb_findstart(c);
  for (i = 0; i < 1000; ++i) {
    r = cdb_findnext(c, k, n);
    if (r != 1) return;
    if ((uint64_t)cdb_datapos(c) + cdb_datalen(c) > size) fuzz_fail("data past the end of the file");
    if (cdb_read(c, buf, cdb_datalen(c) < sizeof buf ? cdb_datalen(c) : sizeof buf, cdb_datapos(c)) == -1)
      return;
  }
}

void fuzz_one(const unsigned char *data, size_t len)
{
  static const char *const keys[] = { "", "!", "!alias\0", "a", "key", "!joe\0", 0 };
  static const size_t lens[] = { 0, 1, 7, 1, 3, 5 };
  struct cdb c;
  int fd = fuzz_fd(data, len);
  size_t i;

  alarm(2);
  cdb_init(&c, fd);
  for (i = 0; keys[i]; ++i) look(&c, len, keys[i], lens[i]);
  if (len > 2048) look(&c, len, (const char *)data + 2048, len - 2048 < 32 ? len - 2048 : 32);
  cdb_free(&c);
  close(fd);
  alarm(0);
}
