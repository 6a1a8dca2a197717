/* mbox - the one writer of the mbox format (mbox(5), mboxrd quoting), for
 * qmail-local and maildir2mbox alike.
 * mbox_fromline sets out to "From SENDER Www Mmm dd HH:MM:SS YYYY\n", the
 * date in asctime(3) form in UTC ("Jan  3"); every byte of SENDER that is
 * a blank, a control character or DEL becomes '-', so the line stays one
 * word, and an empty SENDER is MAILER-DAEMON. 1, or 0 with errno ENOMEM.
 * mbox_quote copies a message in blocks of any size, split anywhere, with
 * the quoting: a line that is >*"From " gets one more '>'. mbox_quoteend
 * gives back a held line start, ends the last line and adds the blank line
 * that ends the message. Both return 1, or 0 on a write error of out. A
 * quoter starts as MBOX_QUOTER_ZERO. */
#ifndef MBOX_H
#define MBOX_H

#include <stddef.h>
#include <time.h>

#include "bio.h"
#include "sa.h"

typedef struct mbox_quoter {
  int atstart;    /* at the start of a line */
  size_t ngt;     /* '>'s held at the start of the line */
  size_t nfrom;   /* bytes of "From " held after them */
  char last;      /* the last byte written, 0 before any */
} mbox_quoter;

#define MBOX_QUOTER_ZERO { 1, 0, 0, 0 }

int mbox_fromline(sa *out, const char *sender, size_t len, time_t t);
int mbox_quote(bio *out, mbox_quoter *q, const char *s, size_t n);
int mbox_quoteend(bio *out, mbox_quoter *q);

#endif
