/* auto - build-time constants, generated into the build directory from the
 * conf-* files (see the Makefile). User and group names are looked up at run
 * time with ids.h, so one build installs on any host. */
#ifndef AUTO_H
#define AUTO_H

extern const char auto_home[];      /* conf-home */
extern const char auto_usera[];     /* alias */
extern const char auto_userd[];     /* qmaild */
extern const char auto_userl[];     /* qmaill */
extern const char auto_usero[];     /* root: file owner */
extern const char auto_userp[];     /* qmailp */
extern const char auto_userq[];     /* qmailq */
extern const char auto_userr[];     /* qmailr */
extern const char auto_users[];     /* qmails */
extern const char auto_groupq[];    /* qmail */
extern const char auto_groupn[];    /* nofiles */
extern const unsigned long auto_split;   /* conf-split */
extern const unsigned long auto_spawn;   /* conf-spawn */
extern const unsigned long auto_patrn;   /* conf-patrn, octal */
extern const char auto_break[];     /* conf-break */

#endif
