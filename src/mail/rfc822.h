/* rfc822 - tokens and address lists of RFC 5322 structured header fields.
 * rfc822_tokenize splits a field body into words, specials and comments;
 * rfc822_addrlist parses an address list (To, Cc, From, Sender, ...) into
 * items: mailboxes, group starts and group ends, each address split into an
 * unquoted local part and a domain. Both return 1 on success, 0 on a syntax
 * error (then ->err names it, a constant string) and -1 on a system error
 * with errno set (ENOMEM, ERANGE). Any byte may appear in the input; a NUL
 * is a syntax error. Contents live in ->text and items hold offsets into it,
 * so they stay valid when text grows. The caller frees with rfc822_free or
 * rfc822_tokfree; a zeroed structure (RFC822_ZERO) is empty and ready. */
#ifndef RFC822_H
#define RFC822_H

#include <stddef.h>

#include "sa.h"

/* token types; the specials , : ; < > @ . are their own character */
enum { RFC822_ATOM = 256, RFC822_QUOTED, RFC822_LITERAL, RFC822_COMMENT };

typedef struct rfc822_token {
  int type;
  size_t off;            /* contents (unescaped, unfolded) in text */
  size_t len;
} rfc822_token;

typedef struct rfc822_tokens {
  rfc822_token *t;
  size_t len;
  size_t a;
  sa text;
  const char *err;
} rfc822_tokens;

enum { RFC822_MAILBOX = 1, RFC822_GROUP, RFC822_GROUPEND };

typedef struct rfc822_item {
  int kind;
  int angle;             /* mailbox written as [phrase] <addr> */
  int at;                /* the address has an '@' and a domain part */
  size_t phrase, phraselen;   /* display or group name, ready to print */
  size_t local, locallen;     /* local part, unquoted */
  size_t domain, domainlen;   /* domain, without the '@' */
  size_t comment, commentlen; /* trailing comments, ready to print */
} rfc822_item;

typedef struct rfc822_list {
  rfc822_item *i;
  size_t len;
  size_t a;
  sa text;
  rfc822_tokens tok;
  const char *err;
} rfc822_list;

#define RFC822_TOKENS_ZERO { 0, 0, 0, SA_ZERO, 0 }
#define RFC822_ZERO { 0, 0, 0, SA_ZERO, RFC822_TOKENS_ZERO, 0 }

/* rfc822_tokenize - tokens of s[0..n); folding newlines are whitespace */
int rfc822_tokenize(rfc822_tokens *tk, const char *s, size_t n);
void rfc822_tokfree(rfc822_tokens *tk);

/* rfc822_addrlist - parse the address list s[0..n) (a field body).
 * A space between two addresses counts as a comma; source routes in
 * <@a,@b:user@host> are dropped; comments follow their address. */
int rfc822_addrlist(rfc822_list *l, const char *s, size_t n);
void rfc822_free(rfc822_list *l);

/* rfc822_setaddr - replace the address of mailbox item k. 1 or 0 (errno) */
int rfc822_setaddr(rfc822_list *l, size_t k, const char *local, size_t ln,
                   int at, const char *domain, size_t dn);

/* rfc822_addr - append the raw address of item k ("local@domain",
 * unquoted, as in an envelope) to out. 1 or 0 (errno). */
int rfc822_addr(sa *out, const rfc822_list *l, size_t k);

/* rfc822_render - append the list in canonical form to out: addresses
 * quoted where needed, separated by ", ", and folded with "\n  " before a
 * line passes 78 columns; col is the column the text starts at. No final
 * newline. 1 or 0 (errno). */
int rfc822_render(sa *out, const rfc822_list *l, size_t col);

/* rfc822_renderaddr - append one address, local part quoted when needed */
int rfc822_renderaddr(sa *out, const char *local, size_t ln, int at,
                      const char *domain, size_t dn);

#endif
