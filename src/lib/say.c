#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "say.h"
#include "bio.h"

static void sayap(int fd, const char *s, va_list ap)
{
  char buf[1024];
  bio b = BIO_INIT(fd, buf, sizeof buf);

  while (s) {
    bio_puts(&b, s);
    s = va_arg(ap, const char *);
  }
  bio_flush(&b);
}

void say(int fd, const char *s, ...)
{
  va_list ap;
  int e = errno;
  va_start(ap, s);
  sayap(fd, s, ap);
  va_end(ap);
  errno = e;
}

noreturn void die(int code, const char *s, ...)
{
  va_list ap;
  va_start(ap, s);
  sayap(2, s, ap);
  va_end(ap);
  _exit(code);
}

const char *say_errno(void) { return strerror(errno); }
