/* qmail-local's parts share these. Each delivery function reads the
 * message from fd 0 (rewound first), writes head[0..hlen) before it, and
 * either returns having delivered or exits 100/111 with a report on fd 2,
 * the way qmail-local(8) reports. */
#ifndef QMAIL_LOCAL_H
#define QMAIL_LOCAL_H

#include <stddef.h>
#include <stdnoreturn.h>

noreturn void ql_die_nomem(void);
noreturn void ql_die_fork(void);
noreturn void ql_die_read(void);
void ql_rewind(void);                         /* fd 0 back to the start */

void ql_mbox(const char *fn, const char *head, size_t hlen);
void ql_maildir(const char *dir, const char *head, size_t hlen);
int ql_program(const char *cmd);              /* 1 when it exited 99 */
unsigned long ql_forward(const char *sender, char *const *recips, size_t n,
                         const char *head, size_t hlen); /* qmail-queue pid */

#endif
