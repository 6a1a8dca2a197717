/* qids - the message ids named in one queue directory, sorted, so that a
 * tool can tell which of thousands of messages have an entry there with
 * one readdir instead of one stat per message. qids_read returns 1, or 0
 * with errno set (ENOMEM, ERANGE, or what opendir/readdir said); the
 * caller owns the list and frees it with qids_free. */
#ifndef QIDS_H
#define QIDS_H

#include <stddef.h>

typedef struct qids {
  unsigned long *x;
  size_t len;
  size_t a;
} qids;

#define QIDS_ZERO { 0, 0, 0 }

int qids_add(qids *l, unsigned long id);      /* append, unsorted */
void qids_sort(qids *l);
int qids_read(qids *l, const char *dir);      /* replaces l's ids, sorted */
int qids_has(const qids *l, unsigned long id); /* l sorted */
void qids_free(qids *l);

#endif
