/* maildir - deliver one message into a maildir (maildir(5)).
 * maildir_deliver writes head[0..hlen) and then fd from its current offset
 * to a new file in DIR/tmp, checks every write, fsyncs it, links it to
 * DIR/new/NAME and fsyncs new/ so the link survives a crash. The file is
 * nameless (O_TMPFILE, linked through /proc/self/fd and fsynced once more
 * for its link count) where the kernel, the file system and /proc allow;
 * else it is DIR/tmp/NAME, created with O_EXCL, closed before the link and
 * unlinked after. NAME is SECONDS.MmicrosPpidQn.HOST, where n counts the
 * names this process made, so two deliveries never share a name even
 * within one second; an existing name is never reused or overwritten,
 * another is made instead. The caller runs any timer.
 * Returns MAILDIR_OK, or the step that failed with errno set; nothing is
 * left in new/ on failure. */
#ifndef MAILDIR_H
#define MAILDIR_H

#include <stddef.h>

#include "sa.h"

enum {
  MAILDIR_OK,
  MAILDIR_EDIR,     /* cannot open DIR, DIR/tmp or DIR/new */
  MAILDIR_ETMP,     /* cannot create the tmp file */
  MAILDIR_EREAD,    /* reading fd failed */
  MAILDIR_EWRITE,   /* write, fsync or close failed */
  MAILDIR_ELINK,    /* cannot link into new/ */
  MAILDIR_ENOMEM
};

int maildir_deliver(const char *dir, const char *head, size_t hlen, int fd);

/* maildir_name - out = a fresh unique name (no NUL). 1, or 0 on ENOMEM. */
int maildir_name(sa *out);

/* maildir_errstr - a short English text for a MAILDIR_E code */
const char *maildir_errstr(int code);

#endif
