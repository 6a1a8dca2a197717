/* fd - descriptor helpers: move and copy descriptors, set and clear
 * O_NONBLOCK and close-on-exec. Each returns 0 on success, -1 with errno
 * set on error; fd_move closes from only after the copy succeeded. The
 * caller owns every descriptor. */
#ifndef FD_H
#define FD_H

int fd_copy(int to, int from);   /* dup2 unless equal */
int fd_move(int to, int from);   /* fd_copy then close from */
int fd_nonblock(int fd);
int fd_block(int fd);
int fd_cloexec(int fd);
int fd_keep(int fd);             /* clear close-on-exec */

#endif
