/* cdb_make - write a constant database (D. J. Bernstein's cdb format).
 * cdb_make_start(c, fd) on a new empty file, cdb_make_add for each record,
 * cdb_make_finish writes the tables and flushes (the caller fsyncs, closes
 * and renames). All return 0 on success, -1 with errno set (ENOMEM, EFBIG
 * when the file would pass 4 GiB, or a write error). */
#ifndef CDB_MAKE_H
#define CDB_MAKE_H

#include <stddef.h>
#include <stdint.h>

#include "bio.h"

struct cdb_make_entry { uint32_t hash; uint32_t pos; };

struct cdb_make {
  char buf[8192];
  bio b;
  uint32_t pos;
  struct cdb_make_entry *e;
  size_t n;
  size_t a;
};

int cdb_make_start(struct cdb_make *c, int fd);
int cdb_make_add(struct cdb_make *c, const char *key, size_t klen, const char *data, size_t dlen);
int cdb_make_finish(struct cdb_make *c);

#endif
