/* sa - growable byte string.
 * An sa owns s[0..a); the bytes s[0..len) are the contents. Every function
 * returns 1 on success and 0 on failure with errno set: ENOMEM when malloc
 * fails, ERANGE when a size would overflow size_t. On failure the string is
 * unchanged. The caller frees with sa_free(). */
#ifndef SA_H
#define SA_H

#include <stddef.h>

typedef struct sa {
  char *s;
  size_t len;
  size_t a;
} sa;

#define SA_ZERO { 0, 0, 0 }

int sa_ready(sa *x, size_t n);
int sa_readyplus(sa *x, size_t n);
int sa_copyb(sa *x, const char *s, size_t n);
int sa_copys(sa *x, const char *s);
int sa_copy(sa *x, const sa *y);
int sa_catb(sa *x, const char *s, size_t n);
int sa_cats(sa *x, const char *s);
int sa_cat(sa *x, const sa *y);
int sa_append(sa *x, char c);
int sa_0(sa *x);
int sa_catulong(sa *x, unsigned long u);
int sa_starts(const sa *x, const char *prefix);
void sa_free(sa *x);

/* size helpers: 1 and *r set when the result fits, else 0 and errno ERANGE */
int size_add(size_t *r, size_t a, size_t b);
int size_mul(size_t *r, size_t a, size_t b);

#endif
