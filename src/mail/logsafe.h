/* logsafe - make text safe for one line of qmail-send's log (qmail-log(5)):
 * a newline becomes '/', and '%', space, control and non-ASCII bytes
 * become '_'. Appends n bytes to out; 1, or 0 with errno set. */
#ifndef LOGSAFE_H
#define LOGSAFE_H

#include <stddef.h>

#include "sa.h"

int logsafe_cat(sa *out, const char *s, size_t n);

#endif
