/* dns - a small stub resolver for mail routing, libc only.
 * dns_init reads the nameserver lines of /etc/resolv.conf (default: the
 * local host). Queries go over UDP with EDNS0 (4096 bytes), fall back to TCP
 * when the answer is truncated and to plain DNS when a server answers
 * FORMERR. Every packet is parsed with strict bounds checks: a malformed
 * answer counts as that server failing. CNAMEs are followed for lookups
 * only; callers never rewrite addresses with them.
 * Functions return DNS_OK (0) or a negative DNS_* code: DNS_HARD (the name
 * does not exist), DNS_SOFT (try later), DNS_MEM (out of memory),
 * DNS_NULLMX (the domain publishes a null MX, RFC 7505). No global state;
 * a list's array x is the caller's to free(). */
#ifndef DNS_H
#define DNS_H

#include <stddef.h>
#include <sys/socket.h>

#include "ipaddr.h"
#include "sa.h"

#define DNS_OK 0
#define DNS_SOFT (-1)
#define DNS_HARD (-2)
#define DNS_MEM (-3)
#define DNS_NULLMX (-4)

#define DNS_T_A 1
#define DNS_T_CNAME 5
#define DNS_T_PTR 12
#define DNS_T_MX 15
#define DNS_T_TXT 16
#define DNS_T_AAAA 28

#define DNS_NAMELEN 256   /* a name in text form (at most 253) plus NUL */
#define DNS_MAXRR 64      /* records kept from one answer */
#define DNS_MAXNS 8       /* nameservers used from resolv.conf */
#define DNS_MAXMX 32      /* MX hosts looked up for one domain */
#define DNS_MAXIP 128     /* addresses kept for one domain */

struct dns_conf {
  struct sockaddr_storage ns[DNS_MAXNS];
  socklen_t nslen[DNS_MAXNS];
  size_t n;
  unsigned timeout_ms;      /* per try; default 5000 */
  unsigned attempts;        /* rounds over the servers; default 2 */
  unsigned port;            /* default 53 */
};

struct dns_rr {
  unsigned type;
  unsigned pref;                /* MX */
  unsigned char ip[16];         /* A (4 bytes), AAAA */
  char name[DNS_NAMELEN];       /* MX exchange, CNAME target or PTR name */
};

struct dns_answer {
  unsigned id;
  unsigned rcode;
  int tc;
  char canon[DNS_NAMELEN];      /* qname after the packet's CNAME chain */
  size_t n;                     /* records of qtype owned by canon */
  struct dns_rr rr[DNS_MAXRR];
};

struct dns_host {
  unsigned long pref;
  struct ipaddr ip;
};

typedef struct dns_list {
  struct dns_host *x;
  size_t len;
  size_t a;
} dns_list;

#define DNS_LIST_ZERO { 0, 0, 0 }

/* dns_init - nameservers from resolv.conf (fn 0 means /etc/resolv.conf);
 * 0, or -1 when the file exists but cannot be read */
int dns_init(struct dns_conf *c, const char *fn);

/* dns_mkquery - a query packet for (name, qtype) into q (512 bytes);
 * returns its length, or 0 when name is not a valid domain name */
size_t dns_mkquery(unsigned char *q, const char *name, unsigned qtype, unsigned id, int edns);

/* dns_parse - check that pkt answers (name, qtype) and collect its records;
 * 0, or -1 with errno EPROTO when the packet is malformed */
int dns_parse(const unsigned char *pkt, size_t len, const char *name, unsigned qtype, struct dns_answer *a);

/* dns_resolve - ask the servers; follows CNAMEs through further queries */
int dns_resolve(const struct dns_conf *c, const char *name, unsigned qtype, struct dns_answer *a);

/* dns_txt - the TXT records of name into out, each record's strings joined
 * and ended by a NUL (a NUL inside a record becomes DEL, so no parser takes
 * it for valid text); *n the number of records. DNS_OK, DNS_HARD, DNS_SOFT,
 * DNS_MEM. */
int dns_txt(const struct dns_conf *c, const char *name, sa *out, size_t *n);

/* dns_ip - append the IPv4, then IPv6 addresses of name with preference
 * pref. DNS_OK may add nothing (the name exists but has no address). */
int dns_ip(const struct dns_conf *c, dns_list *out, const char *name, unsigned long pref);

/* dns_mxip - the addresses of the mail exchangers of name, sorted by
 * preference, in random order within one preference; the addresses of
 * name itself (preference 0) when it has no MX. *partial is set when some
 * exchanger could not be looked up right now. A name "[1.2.3.4]" or
 * "[IPv6:...]" is an address literal. */
int dns_mxip(const struct dns_conf *c, dns_list *out, const char *name, unsigned long seed, int *partial);

/* dns_literal - 1 and *ip set when name is an address literal in brackets */
int dns_literal(struct ipaddr *ip, const char *name);

int dns_list_add(dns_list *l, const struct ipaddr *ip, unsigned long pref);

#endif
