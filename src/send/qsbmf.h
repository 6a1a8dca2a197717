/* qsbmf - one failure paragraph of a qmail-send bounce (QSBMF,
 * cr.yp.to/proto/qsbmf.txt), as collected in queue/bounce/<id>:
 * "<recip>:", the report lines, then a blank line. Newlines in recip
 * become '_'; an empty line inside the report becomes "/" so that the
 * paragraph stays in one piece. Appends to out; 1, or 0 with errno set. */
#ifndef QSBMF_H
#define QSBMF_H

#include <stddef.h>

#include "sa.h"

int qsbmf_para(sa *out, const char *recip, const char *report, size_t rlen);

#endif
