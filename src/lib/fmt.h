/* fmt - format numbers into caller buffers.
 * Each fmt_ function writes its digits to s (no NUL) and returns how many it
 * wrote; with s == 0 it only returns how many it would write. FMT_ULONG is
 * enough room for any unsigned long plus a NUL. */
#ifndef FMT_H
#define FMT_H

#include <stddef.h>

#define FMT_ULONG 41

size_t fmt_ulong(char *s, unsigned long u);
size_t fmt_ulong0(char *s, unsigned long u, size_t width);
size_t fmt_xlong(char *s, unsigned long u);
size_t fmt_str(char *s, const char *t);

#endif
