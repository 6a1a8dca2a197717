/* qfn - names of queue files, relative to conf-home/queue (qmail's layout).
 * A split directory holds its files in conf-split subdirectories chosen by
 * the message id modulo the split: "mess/5/1234". qfn_fmt writes the name
 * and a NUL into s, which needs QFN_SIZE bytes when dir has at most
 * QFN_DIRMAX characters, and returns the length without the NUL; with s == 0
 * it only measures. qfn_id parses a directory entry as a message id. */
#ifndef QFN_H
#define QFN_H

#include <stddef.h>

#include "fmt.h"

#define QFN_DIRMAX 16
#define QFN_SIZE (QFN_DIRMAX + 2 * FMT_ULONG + 3)

size_t qfn_fmt(char *s, const char *dir, unsigned long id, int split);

/* qfn_id - 1 and *id set when name is all decimal digits, else 0 */
int qfn_id(const char *name, unsigned long *id);

#endif
