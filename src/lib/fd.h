/* fd - descriptor helpers. Each returns 0 on success, -1 on error. */
#ifndef FD_H
#define FD_H

int fd_copy(int to, int from);   /* dup2 unless equal */
int fd_move(int to, int from);   /* fd_copy then close from */
int fd_nonblock(int fd);
int fd_block(int fd);
int fd_cloexec(int fd);
int fd_keep(int fd);             /* clear close-on-exec */

#endif
