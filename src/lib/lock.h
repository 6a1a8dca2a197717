/* lock - whole-file locks with flock(2) on a descriptor the caller owns.
 * lock_ex waits (retrying EINTR), lock_exnb fails at once with EWOULDBLOCK
 * when another holds the lock. Each returns 0 on success, -1 with errno
 * set. A lock goes away with the last descriptor of the open file. */
#ifndef LOCK_H
#define LOCK_H

int lock_ex(int fd);
int lock_exnb(int fd);

#endif
