/* scan - parse numbers from the start of a string.
 * Each returns how many bytes it consumed, 0 when there is no number or when
 * the value would overflow (then *u is left alone). */
#ifndef SCAN_H
#define SCAN_H

#include <stddef.h>

size_t scan_ulong(const char *s, unsigned long *u);
size_t scan_ulongn(const char *s, size_t n, unsigned long *u);
size_t scan_8long(const char *s, unsigned long *u);

#endif
