/* syncdir - make directory entries durable.
 * A new name (link, rename, unlink) reaches the disk only when its
 * directory is fsynced; an fsync of the file alone does not promise it on
 * every filesystem. syncdir fsyncs the directory dir; syncdir_of fsyncs the
 * directory that holds fn ("." when fn has no slash). Both return 0, or -1
 * with errno set; they keep no descriptor open. */
#ifndef SYNCDIR_H
#define SYNCDIR_H

int syncdir(const char *dir);
int syncdir_of(const char *fn);

#endif
