/* lock - whole-file locks with flock(2). 0 on success, -1 with errno set. */
#ifndef LOCK_H
#define LOCK_H

int lock_ex(int fd);
int lock_exnb(int fd);
int lock_un(int fd);

#endif
