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

/* open_nameless - a new file with no name yet (O_TMPFILE), write-only,
 * mode 0644, in directory dir (relative to dfd, which may be AT_FDCWD):
 * the file system places its inode by that directory. -1 with errno
 * EOPNOTSUPP when the kernel, the file system or a missing /proc (which
 * link_nameless goes through) rules that out. */
int open_nameless(int dfd, const char *dir);

/* link_nameless - give the nameless file fd the name fn (relative to
 * dfd); fails rather than overwrite, as link(2). By the descriptor
 * itself where the kernel allows it (AT_EMPTY_PATH), else through its
 * /proc/self/fd link. */
int link_nameless(int fd, int dfd, const char *fn);

#endif
