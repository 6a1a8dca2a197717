/* prog - the server helper's side of prog, without any TLS library
 * (prog.c): accounts, pipes, UCSPI-TLS descriptors, running prog. Each
 * function that can fail prints "<tls_prog>: fatal: ..." and exits 111. */
#ifndef PROG_H
#define PROG_H

#include <stddef.h>
#include <stdnoreturn.h>
#include <sys/types.h>

extern const char *tls_prog;            /* the program's name in messages */

/* plan_ids - started as root: prog's account from $UID/$GID, the
 * engine's from $TLS_UID/$TLS_GID or else prog's; exit when root has no
 * account to become for the engine. Not root: nothing changes. */
void plan_ids(void);
extern int engine_ids, prog_ids;        /* 1: that one changes account */
extern uid_t engine_uid, prog_uid;
extern gid_t engine_gid, prog_gid;
void drop_engine(void);
void drop_prog(void);

extern int toprog[2], fromprog[2];      /* prog's input and output pipes */
void pipes(void);                       /* makes both, close-on-exec */
void offer(int ctl);                    /* ctl and prog's pipe ends as SSLCTLFD, SSLREADFD, SSLWRITEFD */
int export_env(char *env, size_t n);    /* "SSL_PROTOCOL=p\0SSL_CIPHER=c\0" (n bytes, room for one more) into the environment; 0 if not that */
void forget(void);                      /* unset CERTFILE, KEYFILE, TLS_UID, TLS_GID */
noreturn void runprog(char **prog);     /* as prog's account, without CERTFILE, KEYFILE, TLS_UID, TLS_GID */
noreturn void die_sys(const char *what);   /* "unable to <what>: <errno>" */
unsigned scan_secs(const char *s);      /* -h and -t: 1 to 86400 seconds, else 0 */

#endif
