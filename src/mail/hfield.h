/* hfield - read a message's header one field at a time, in bounded memory.
 * hfield_next puts the next field into f (its first line and continuation
 * lines, newlines kept), at most max bytes of it; the rest of a longer
 * field is read and dropped and *cut is set. Returns 1 for a field, 0 at
 * the end of the header (an empty line or EOF), -1 on a read error or when
 * memory runs out (errno set). Nothing is kept between calls but the bio. */
#ifndef HFIELD_H
#define HFIELD_H

#include <stddef.h>

#include "bio.h"
#include "sa.h"

int hfield_next(bio *in, sa *f, size_t max, int *cut);

/* hfield_is - 1 when field f is named name (ASCII case ignored); *body
 * is then the offset of the text after the colon */
int hfield_is(const sa *f, const char *name, size_t *body);

#endif
