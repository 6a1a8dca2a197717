/* grow - the one growth rule for arrays of fixed-size elements.
 * grow(p, &a, n, size) returns an array with room for at least n elements
 * of size bytes: p itself when a >= n already, else p moved by realloc to
 * n + n/2 + 16 elements (exactly n when that slack would overflow), with a
 * set to the new room. On failure it returns 0 with errno ERANGE (n * size
 * overflows size_t) or ENOMEM; p is then still valid, still the caller's to
 * free, and a is unchanged. The caller stores the result: p = t. */
#ifndef GROW_H
#define GROW_H

#include <stddef.h>

void *grow(void *p, size_t *a, size_t n, size_t size);

#endif
