/* cdb - read D. J. Bernstein's constant databases.
 * cdb_init maps the file (or reads with pread when mmap fails); cdb_find
 * returns 1 when key is found (then cdb_datapos/cdb_datalen give the data),
 * 0 when not, -1 on a read error or a corrupt file (errno set: EPROTO for
 * corruption). Every offset and count read from the file is checked against
 * its size (taken at cdb_init) before it is used, so a corrupt file costs at
 * most one pass over its own slots. cdb_findnext continues after the last
 * match of the same key. cdb_free unmaps; the caller owns and closes the fd. */
#ifndef CDB_H
#define CDB_H

#include <stddef.h>
#include <stdint.h>

struct cdb {
  char *map;
  int fd;
  uint32_t size;         /* of the file, at cdb_init; 0 for none */
  uint32_t loop;
  uint32_t khash;
  uint32_t kpos;
  uint32_t hpos;
  uint32_t hslots;
  uint32_t dpos;
  uint32_t dlen;
};

uint32_t cdb_hash(const char *key, size_t len);
void cdb_init(struct cdb *c, int fd);
void cdb_free(struct cdb *c);
void cdb_findstart(struct cdb *c);
int cdb_findnext(struct cdb *c, const char *key, size_t len);
int cdb_find(struct cdb *c, const char *key, size_t len);
int cdb_read(struct cdb *c, char *buf, size_t len, uint32_t pos);
#define cdb_datapos(c) ((c)->dpos)
#define cdb_datalen(c) ((c)->dlen)

#endif
