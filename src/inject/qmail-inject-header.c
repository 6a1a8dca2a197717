/* qmail-inject-header - read the header, rewrite its address fields per
 * qmail-header(5), collect header recipients, and make the added fields. */
#include <string.h>
#include <unistd.h>

#include "qmail-inject.h"
#include "fmt.h"
#include "str.h"
#include "date822.h"
#include "quote.h"
#include "rfc822.h"

static const struct { const char *name; int type; } names[] = {
  { "sender", H_SENDER }, { "from", H_FROM }, { "reply-to", H_REPLYTO },
  { "to", H_TO }, { "cc", H_CC }, { "bcc", H_BCC }, { "date", H_DATE },
  { "message-id", H_MESSAGEID }, { "resent-sender", H_R_SENDER },
  { "resent-from", H_R_FROM }, { "resent-reply-to", H_R_REPLYTO },
  { "resent-to", H_R_TO }, { "resent-cc", H_R_CC }, { "resent-bcc", H_R_BCC },
  { "resent-date", H_R_DATE }, { "resent-message-id", H_R_MESSAGEID },
  { "return-receipt-to", H_RETURNRECEIPTTO }, { "errors-to", H_ERRORSTO },
  { "apparently-to", H_APPARENTLYTO }, { "return-path", H_RETURNPATH },
  { "content-length", H_CONTENTLENGTH }, { "mail-followup-to", H_MAILFOLLOWUPTO },
  { 0, 0 }
};

/* namelen - length of a valid field name at the start of s (printable,
 * no colon, then optional blanks and a colon), or 0 */
static size_t namelen(const char *s, size_t n)
{
  size_t i, j;
  for (i = 0; i < n; ++i) {
    unsigned char c = (unsigned char)s[i];
    if (c == ':' || c <= 32 || c >= 127) break;
  }
  if (!i) return 0;
  for (j = i; j < n && (s[j] == ' ' || s[j] == '\t'); ++j) ;
  if (j >= n || s[j] != ':') return 0;
  return i;
}

static int fieldtype(const char *s, size_t nl)
{
  int k;
  for (k = 0; names[k].name; ++k)
    if (strlen(names[k].name) == nl && !case_diffb(s, nl, names[k].name))
      return names[k].type;
  return H_OTHER;
}

void addlist(sa *list, size_t *n, const char *s, size_t len)
{
  if (list->len > REWRITTEN_MAX) die_perm("too many recipients", 0, 0);
  if (!sa_catb(list, s, len) || !sa_0(list)) die_nomem();
  ++*n;
}

/* qualify - add defaulthost, plusdomain and defaultdomain as qmail-header(5) says */
void qualify(const struct inject *in, sa *local, int *at, sa *domain)
{
  sa *last = *at ? domain : local;
  size_t i;

  if (!local->len && !*at) return;       /* <> stays <> */
  if (*at && domain->len >= 2 && domain->s[0] == '[' && domain->s[1] == ']')
    return;                              /* <box@[]> is left alone */
  if (last->len && last->s[last->len - 1] == '.') --last->len;
  if (*at && !domain->len) *at = 0;      /* box@ is box */
  if (!local->len && !*at) return;
  if (!*at) {
    if (!in->havedefaulthost) die_noname("defaulthost", local);
    *at = 1;
    if (!sa_copy(domain, &in->defaulthost)) die_nomem();
  }
  if (domain->len && domain->s[domain->len - 1] == '+') {
    if (!in->haveplusdomain) die_noname("plusdomain", local);
    --domain->len;
    if (!sa_append(domain, '.') || !sa_cat(domain, &in->plusdomain)) die_nomem();
  }
  for (i = 0; i < domain->len; ++i)
    if (domain->s[i] == '.' || domain->s[i] == '[') return;
  if (!in->havedefaultdomain) die_noname("defaultdomain", local);
  if (!sa_append(domain, '.') || !sa_cat(domain, &in->defaultdomain)) die_nomem();
}

static sa local = SA_ZERO, domain = SA_ZERO, raw = SA_ZERO, out = SA_ZERO;
static rfc822_list list = RFC822_ZERO;

/* addrfield - rewrite an address field; 1 done, 0 syntax error (why) */
static int addrfield(struct inject *in, sa *h, size_t nl, int type, const char **why)
{
  size_t colon = byte_chr(h->s, h->len, ':'), k;
  size_t end = h->len;
  int r;

  if (end && h->s[end - 1] == '\n') --end;
  r = rfc822_addrlist(&list, h->s + colon + 1, end - colon - 1);
  if (r == -1) die_nomem();
  if (r == 0) { *why = list.err; return 0; }
  /* nothing to rewrite (a field of only a comment or blanks): keep it as
   * it came, comment and all */
  if (!list.len) return 1;

  for (k = 0; k < list.len; ++k) {
    rfc822_item *x = list.i + k;
    int at = x->at;
    if (x->kind != RFC822_MAILBOX) continue;
    if (!sa_copyb(&local, list.text.s + x->local, x->locallen)) die_nomem();
    if (!sa_copyb(&domain, list.text.s + x->domain, x->domainlen)) die_nomem();
    /* x@"a@b": the envelope would take b for the domain */
    if (at && byte_chr(domain.s, domain.len, '@') < domain.len) {
      *why = "'@' in the domain of an address";
      return 0;
    }
    qualify(in, &local, &at, &domain);
    if (local.len + (size_t)at + domain.len > ADDR_MAX) {   /* each < 5 MiB */
      *why = "address too long";
      return 0;
    }
    if (!rfc822_setaddr(&list, k, local.s, local.len, at, domain.s, domain.len)) die_nomem();
  }
  /* the list is good: now collect its addresses */
  for (k = 0; k < list.len; ++k) {
    if (list.i[k].kind != RFC822_MAILBOX) continue;
    raw.len = 0;
    if (!rfc822_addr(&raw, &list, k)) die_nomem();
    switch (type) {
      case H_TO: case H_CC:
        addlist(&in->tocc, &in->ntocc, raw.s, raw.len);
        /* fall through */
      case H_BCC: case H_APPARENTLYTO:
        if (raw.len) addlist(&in->hr, &in->nhr, raw.s, raw.len);
        break;
      case H_R_TO: case H_R_CC: case H_R_BCC:
        if (raw.len) addlist(&in->hrr, &in->nhrr, raw.s, raw.len);
        break;
      case H_RETURNPATH:
        if (!in->senderset) {
          if (!sa_copy(&in->sender, &raw)) die_nomem();
          if (in->flaghackrecip && raw.len && !sa_cats(&in->sender, "-@[]")) die_nomem();
          in->senderset = 1;
        }
        break;
    }
  }
  out.len = 0;
  if (!sa_catb(&out, h->s, nl) || !sa_cats(&out, ": ")) die_nomem();
  if (!rfc822_render(&out, &list, nl + 2) || !sa_append(&out, '\n')) die_nomem();
  if (!sa_copy(h, &out)) die_nomem();
  return 1;
}

/* field - one complete header field: rewrite, record, keep or drop it */
static void field(struct inject *in, sa *h)
{
  size_t nl = namelen(h->s, h->len);
  int type = fieldtype(h->s, nl);
  int recip = 0;
  const char *why;

  if (in->flagdeletefrom && type == H_FROM) return;
  if (in->flagdeletemessid && type == H_MESSAGEID) return;
  if (in->flagdeletesender && type == H_RETURNPATH) return;
  in->seen[type] = 1;

  switch (type) {
    case H_TO: case H_CC: case H_BCC: case H_APPARENTLYTO:
    case H_R_TO: case H_R_CC: case H_R_BCC:
      recip = 1;
      /* fall through */
    case H_RETURNPATH: case H_SENDER: case H_FROM: case H_REPLYTO:
    case H_RETURNRECEIPTTO: case H_ERRORSTO: case H_R_SENDER: case H_R_FROM:
    case H_R_REPLYTO:
      if (addrfield(in, h, nl, type, &why)) break;
      /* with -a nothing depends on a broken recipient field: keep it */
      if (recip && !in->flagrh) break;
      die_perm(why, h->s, h->len);
  }
  switch (type) {
    case H_BCC: case H_R_BCC: case H_RETURNPATH: case H_CONTENTLENGTH:
      return;
  }
  if (!sa_cat(&in->saved, h)) die_nomem();
  if (in->saved.len > REWRITTEN_MAX) die_perm("header too large", 0, 0);
}

/* couldbefield - whether a line cut short at the size limit may still be
 * a header field (then the header is too large) rather than body text */
static int couldbefield(const sa *l, int infield)
{
  if (!l->len) return 0;
  if (infield && (l->s[0] == ' ' || l->s[0] == '\t')) return 1;
  if (l->len >= 5 && !memcmp(l->s, "From ", 5)) return 1;
  if (namelen(l->s, l->len)) return 1;
  /* no colon yet: a name may still be coming, unless it is already
   * longer than any line RFC 5322 allows */
  if (byte_chr(l->s, l->len, ':') == l->len && l->len <= 998) {
    size_t i;
    for (i = 0; i < l->len; ++i)
      if ((unsigned char)l->s[i] <= 32 || (unsigned char)l->s[i] >= 127) return 0;
    return 1;
  }
  return 0;
}

/* header_read - collect fields up to the blank line, in bounded memory */
void header_read(struct inject *in, sa *body)
{
  static sa line = SA_ZERO, h = SA_ZERO;
  size_t total = 0;   /* header bytes so far; at most HEADER_MAX here */
  int r;

  body->len = 0;
  h.len = 0;
  for (;;) {
    line.len = 0;
    r = bio_getln(&in->in, &line, '\n', HEADER_MAX + 2 - total);
    if (r == -1) die_read();
    if (r == -2) {
      if (couldbefield(&line, h.len > 0)) die_perm("header too large", 0, 0);
      break;   /* a long body line: the header ended before it */
    }
    if (r == 0 && !line.len) break;
    total += line.len;
    if (r == 0 && !sa_append(&line, '\n')) die_nomem();
    if (line.len >= 2 && line.s[line.len - 2] == '\r') {
      line.s[line.len - 2] = '\n';
      --line.len;
    }
    if (byte_chr(line.s, line.len, 0) < line.len) {
      if (couldbefield(&line, h.len > 0)) die_perm("NUL in header", 0, 0);
      break;
    }
    if (h.len && (line.s[0] == ' ' || line.s[0] == '\t')) {
      if (total > HEADER_MAX) die_perm("header too large", 0, 0);
      if (!sa_cat(&h, &line)) die_nomem();
      continue;
    }
    if (h.len) { field(in, &h); h.len = 0; }
    if (line.len == 1) { line.len = 0; break; }   /* the blank line */
    if (total > HEADER_MAX && couldbefield(&line, 0)) die_perm("header too large", 0, 0);
    if (line.len >= 5 && !memcmp(line.s, "From ", 5)) {
      if (!sa_copys(&h, "MBOX-Line: ") || !sa_cat(&h, &line)) die_nomem();
      continue;
    }
    if (namelen(line.s, line.len)) {
      if (!sa_copy(&h, &line)) die_nomem();
      continue;
    }
    break;
  }
  if (h.len) { field(in, &h); h.len = 0; }
  if (line.len && !sa_copy(body, &line)) die_nomem();
}

/* catquoted - a display name as a quoted string, line breaks as blanks */
static void catname(sa *o, const char *s, char open, char close)
{
  if (!sa_append(o, open)) die_nomem();
  for (; *s; ++s) {
    char c = *s;
    if (c == '\r' || c == '\n') c = ' ';
    if (c == open || c == close || c == '\\')
      if (!sa_append(o, '\\')) die_nomem();
    if (!sa_append(o, c)) die_nomem();
  }
  if (!sa_append(o, close)) die_nomem();
}

/* default_address - user@host qualified, with the -m and -r hacks when asked */
void default_address(const struct inject *in, sa *o, const char *user, const char *host, int hack)
{
  int at = host != 0;
  if (!sa_copys(&local, user)) die_nomem();
  if (hack && in->flaghackmess) {
    char num[FMT_ULONG];
    if (!sa_append(&local, '-')) die_nomem();
    if (!sa_catb(&local, num, fmt_ulong(num, (unsigned long)in->start))) die_nomem();
    if (!sa_append(&local, '.')) die_nomem();
    if (!sa_catb(&local, num, fmt_ulong(num, (unsigned long)getpid()))) die_nomem();
  }
  if (hack && in->flaghackrecip && !sa_append(&local, '-')) die_nomem();
  if (!sa_copys(&domain, host ? host : "")) die_nomem();
  qualify(in, &local, &at, &domain);
  if (!sa_copy(o, &local)) die_nomem();
  if (at && (!sa_append(o, '@') || !sa_cat(o, &domain))) die_nomem();
}

/* addfrom - a From field for the user, with the full name as asked */
static void addfrom(struct inject *in, const char *prefix)
{
  if (!sa_cats(&in->added, prefix) || !sa_cats(&in->added, "From: ")) die_nomem();
  default_address(in, &raw, in->mailuser, in->mailhost, 0);
  out.len = 0;
  if (!quote_addr(&out, raw.s, raw.len)) die_nomem();
  if (in->fullname && !in->flagnamecomment) {
    catname(&in->added, in->fullname, '"', '"');
    if (!sa_cats(&in->added, " <") || !sa_cat(&in->added, &out) ||
        !sa_append(&in->added, '>')) die_nomem();
  } else {
    if (!sa_cat(&in->added, &out)) die_nomem();
    if (in->fullname) {
      if (!sa_append(&in->added, ' ')) die_nomem();
      catname(&in->added, in->fullname, '(', ')');
    }
  }
  if (!sa_append(&in->added, '\n')) die_nomem();
}

static void adddate(struct inject *in, const char *prefix)
{
  if (!sa_cats(&in->added, prefix) || !sa_cats(&in->added, "Date: ") ||
      !date822_fmt(&in->added, in->start) || !sa_append(&in->added, '\n'))
    die_nomem();
}

/* addmsgid - <YYYYMMDDHHMMSS.pid.qmail@idhost>, as qmail makes them */
static void addmsgid(struct inject *in, const char *prefix)
{
  struct tm tm;
  char buf[64];
  size_t n = 0;

  if (!gmtime_r(&in->start, &tm)) memset(&tm, 0, sizeof tm);
  n += fmt_ulong0(buf + n, (unsigned long)tm.tm_year + 1900, 4);
  n += fmt_ulong0(buf + n, (unsigned long)tm.tm_mon + 1, 2);
  n += fmt_ulong0(buf + n, (unsigned long)tm.tm_mday, 2);
  n += fmt_ulong0(buf + n, (unsigned long)tm.tm_hour, 2);
  n += fmt_ulong0(buf + n, (unsigned long)tm.tm_min, 2);
  n += fmt_ulong0(buf + n, (unsigned long)tm.tm_sec, 2);
  buf[n++] = '.';
  n += fmt_ulong(buf + n, (unsigned long)getpid());
  if (!sa_cats(&in->added, prefix) || !sa_cats(&in->added, "Message-ID: <") ||
      !sa_catb(&in->added, buf, n) || !sa_cats(&in->added, ".qmail@") ||
      !sa_cat(&in->added, &in->idhost) || !sa_cats(&in->added, ">\n"))
    die_nomem();
}

/* addmft - Mail-Followup-To when To or Cc names a list in QMAILMFTFILE */
static void addmft(struct inject *in)
{
  size_t i, j, col;
  const char *a, *m;
  int hit = 0;

  if (!in->flagmft || in->seen[H_MAILFOLLOWUPTO]) return;
  for (a = in->tocc.s, i = 0; i < in->ntocc && !hit; ++i, a += strlen(a) + 1)
    for (m = in->mft.s, j = 0; j < in->mft.len; j += strlen(m + j) + 1)
      if (!case_diffs(a, m + j)) { hit = 1; break; }
  if (!hit) return;
  if (!sa_cats(&in->added, "Mail-Followup-To: ")) die_nomem();
  col = 18;
  for (a = in->tocc.s, i = 0; i < in->ntocc; ++i, a += strlen(a) + 1) {
    out.len = 0;
    if (!quote_addr(&out, a, strlen(a))) die_nomem();
    if (i) {
      if (col + 2 + out.len > 78) {
        if (!sa_cats(&in->added, ",\n  ")) die_nomem();
        col = 2;
      } else {
        if (!sa_cats(&in->added, ", ")) die_nomem();
        col += 2;
      }
    }
    if (!sa_cat(&in->added, &out)) die_nomem();
    col += out.len;
  }
  if (!sa_append(&in->added, '\n')) die_nomem();
}

/* header_finish - the sender and the fields qmail-inject adds */
void header_finish(struct inject *in)
{
  const int *s = in->seen;

  in->flagresent = s[H_R_SENDER] || s[H_R_FROM] || s[H_R_REPLYTO] || s[H_R_TO] ||
                   s[H_R_CC] || s[H_R_BCC] || s[H_R_DATE] || s[H_R_MESSAGEID];
  if (!in->senderset) {
    default_address(in, &in->sender, in->mailruser, in->mailrhost, 1);
    if (in->flaghackrecip && !sa_cats(&in->sender, "-@[]")) die_nomem();
    in->senderset = 1;
  }
  if (!sa_copys(&in->added, "")) die_nomem();
  if (in->flagresent) {
    if (!s[H_R_DATE]) adddate(in, "Resent-");
    if (!s[H_R_MESSAGEID]) addmsgid(in, "Resent-");
    if (!s[H_R_FROM]) addfrom(in, "Resent-");
    if (!s[H_R_TO] && !s[H_R_CC])
      if (!sa_cats(&in->added, "Resent-Cc: recipient list not shown: ;\n")) die_nomem();
  } else {
    if (!s[H_DATE]) adddate(in, "");
    if (!s[H_MESSAGEID]) addmsgid(in, "");
    if (!s[H_FROM]) addfrom(in, "");
    if (!s[H_TO] && !s[H_CC])
      if (!sa_cats(&in->added, "Cc: recipient list not shown: ;\n")) die_nomem();
    addmft(in);
  }
}
