/* qmail-inject - the interface between qmail-inject.c (options,
 * controls, envelope, body, the queue) and qmail-inject-header.c (reading
 * and rewriting the header). qmail-inject.c owns the one struct inject,
 * file-static there, and passes it to the header functions; the death
 * helpers are qmail-inject.c's. See man/qmail-inject.8. */
#ifndef QMAIL_INJECT_H
#define QMAIL_INJECT_H

#include <stdnoreturn.h>
#include <time.h>

#include "sa.h"
#include "bio.h"

#define HEADER_MAX (1024 * 1024)      /* header bytes read */
#define REWRITTEN_MAX (4 * HEADER_MAX) /* header bytes written, and envelope */
#define ADDR_MAX 1000                  /* qmail-limits(7) */

/* header field types the rewriting cares about */
enum {
  H_OTHER, H_SENDER, H_FROM, H_REPLYTO, H_TO, H_CC, H_BCC, H_DATE,
  H_MESSAGEID, H_R_SENDER, H_R_FROM, H_R_REPLYTO, H_R_TO, H_R_CC, H_R_BCC,
  H_R_DATE, H_R_MESSAGEID, H_RETURNRECEIPTTO, H_ERRORSTO, H_APPARENTLYTO,
  H_RETURNPATH, H_CONTENTLENGTH, H_MAILFOLLOWUPTO, H_NUM
};

struct inject {
  sa defaultdomain, defaulthost, plusdomain, idhost;
  /* 0 when neither the variable, the control file nor control/me named
   * it: then an address that needs it is refused (die_noname) */
  int havedefaultdomain, havedefaulthost, haveplusdomain;
  int flagqueue;       /* -N: queue; -n: print */
  int flagrh;          /* recipients from the header */
  int flagnamecomment, flagdeletesender, flagdeletefrom, flagdeletemessid;
  int flaghackrecip, flaghackmess;
  const char *mailhost, *mailuser, *mailrhost, *mailruser, *fullname;
  int senderset;
  sa sender;
  sa args, hr, hrr, tocc;   /* address lists, each entry ends in NUL */
  size_t nargs, nhr, nhrr, ntocc;
  sa mft;                   /* QMAILMFTFILE lines, each ends in NUL */
  int flagmft;
  sa added, saved;          /* fields qmail-inject adds; fields kept */
  int seen[H_NUM];
  int flagresent;
  time_t start;
  bio in;
};

noreturn void die_nomem(void);
noreturn void die_read(void);
noreturn void die_perm(const char *why, const char *what, size_t n);
/* die_noname - exit 111: qualifying local needs control/fn, and neither
 * it nor control/me names a host */
noreturn void die_noname(const char *fn, const sa *local);

/* qmail-inject-header.c */
/* header_read - read and rewrite the header; the first body line, if the
 * header ended at one, is left in body (else body is empty) */
void header_read(struct inject *in, sa *body);
/* header_finish - add the fields the header lacks (From, Date, Message-ID ...) */
void header_finish(struct inject *in);
/* qualify - qmail-header(5) qualification of local[@domain] in place */
void qualify(const struct inject *in, sa *local, int *at, sa *domain);
/* addlist - append an address to a list (entry ends in NUL) */
void addlist(sa *list, size_t *n, const char *s, size_t len);
/* default_address - the user's address: local=user, domain=host */
void default_address(const struct inject *in, sa *out, const char *user, const char *host, int quote);

#endif
