#include <errno.h>

#include "errtemp.h"

int err_temp(int e)
{
  switch (e) {
    case ENOENT: case ENOTDIR: case EISDIR: case ENAMETOOLONG:
    case ELOOP: case EINVAL: case ENOEXEC: case EFBIG: case E2BIG:
      return 0;
    default:
      return 1;
  }
}
