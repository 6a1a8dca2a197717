#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "hfield.h"

/* feed - a bio reading s from a pipe-backed temp file */
static int feed(const char *s, size_t n)
{
  char fn[] = "/tmp/hfieldXXXXXX";
  int fd = mkstemp(fn);
  unlink(fn);
  if (write(fd, s, n) != (ssize_t)n) return -1;
  lseek(fd, 0, SEEK_SET);
  return fd;
}

TEST(hfield_fields_and_folding)
{
  static const char m[] = "Subject: a\n b\nX-Long: 0123456789abcdef\nfrom : x\n\nbody: no\n";
  char buf[16];
  bio in;
  sa f = SA_ZERO;
  size_t body;
  int cut, fd = feed(m, sizeof m - 1);

  bio_init(&in, fd, buf, sizeof buf);
  CHECK(hfield_next(&in, &f, 100, &cut) == 1 && !cut);
  CHECK(f.len == 14 && !memcmp(f.s, "Subject: a\n b\n", 14));
  CHECK(hfield_is(&f, "subject", &body) && body == 8);
  CHECK(!hfield_is(&f, "subj", &body));
  /* a field over max is cut, and the rest of it is skipped */
  CHECK(hfield_next(&in, &f, 8, &cut) == 1 && cut && f.len == 8);
  CHECK(hfield_next(&in, &f, 100, &cut) == 1 && !cut);
  CHECK(hfield_is(&f, "From", &body) && body == 6);
  CHECK(hfield_next(&in, &f, 100, &cut) == 0);
  close(fd);
  sa_free(&f);
}

TEST(hfield_eof_without_blank)
{
  static const char m[] = "A: 1";
  char buf[64];
  bio in;
  sa f = SA_ZERO;
  int cut, fd = feed(m, sizeof m - 1);

  bio_init(&in, fd, buf, sizeof buf);
  CHECK(hfield_next(&in, &f, 100, &cut) == 1 && f.len == 4);
  CHECK(hfield_next(&in, &f, 100, &cut) == 0);
  close(fd);
  sa_free(&f);
}
