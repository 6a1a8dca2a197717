/* str - small byte and string helpers libc lacks. The _b functions take
 * a length and never stop at a NUL; the _s ones take NUL-terminated
 * strings. Case folding is ASCII only. None allocates or fails. */
#ifndef STR_H
#define STR_H

#include <stddef.h>

int str_starts(const char *s, const char *prefix);
int str_equal(const char *a, const char *b);
size_t byte_chr(const char *s, size_t n, int c);   /* index, or n */
size_t byte_rchr(const char *s, size_t n, int c);  /* last index, or n */
int case_diffb(const char *a, size_t n, const char *b); /* 0 if equal ignoring ASCII case */
int case_diffs(const char *a, const char *b);
void case_lowerb(char *s, size_t n);

#endif
