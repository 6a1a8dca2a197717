/* cmap - a read-only map built once from a list of NUL-terminated lines
 * (the output of control_readfile). Keys compare without regard to ASCII
 * case. With colon set, each line is key:value split at the first colon
 * (a line without one maps to the empty value); else the value is empty.
 * When a key repeats, the first line wins; a last line without its NUL
 * still counts. cmap_init copies what it needs and returns 1, or 0 with
 * errno set (ENOMEM, ERANGE); cmap_free releases it. */
#ifndef CMAP_H
#define CMAP_H

#include <stddef.h>

typedef struct cmap_ent {
  const char *k;
  size_t klen;
  const char *v;        /* NUL-terminated */
  unsigned long h;
} cmap_ent;

typedef struct cmap {
  char *data;
  cmap_ent *t;
  size_t size;          /* slots, a power of two, or 0 */
  size_t n;
} cmap;

#define CMAP_ZERO { 0, 0, 0, 0 }

int cmap_init(cmap *m, const char *lines, size_t len, int colon);
/* cmap_get - the value for key (NUL-terminated) or 0 when absent */
const char *cmap_get(const cmap *m, const char *key, size_t klen);
void cmap_free(cmap *m);

#endif
