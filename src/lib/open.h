/* open - open(2) wrappers with qmail's usual flags.
 * Each returns the descriptor or -1 with errno set. None sets close-on-exec
 * unless its name says so, because qmail programs hand descriptors down. */
#ifndef OPEN_H
#define OPEN_H

int open_read(const char *fn);
int open_append(const char *fn);       /* O_WRONLY|O_APPEND|O_CREAT 0600 */
int open_trunc(const char *fn);        /* O_WRONLY|O_TRUNC|O_CREAT 0644 */
int open_excl(const char *fn);         /* O_WRONLY|O_EXCL|O_CREAT 0644 */
int open_excl_mode(const char *fn, int mode);

#endif
