/* qmail-dkimverify - check DKIM signatures (RFC 6376, RFC 8463) and DMARC
 * (RFC 7489) of a message on its way into the queue, and put one
 * Authentication-Results field (RFC 8601) in front of it.
 * Usage: as QMAILQUEUE for qmail-smtpd: the message on fd 0, the envelope
 * on fd 1 (left for qmail-queue, never read unless refusing). Runs
 * $QMAILAUTHQUEUE, else bin/qmail-queue, with the new message on fd 0.
 * The SPF result comes from the first field when it is qmail-smtpd's own
 * Authentication-Results field; every Authentication-Results field with
 * our authserv-id (control/me) is removed. With control/dmarcpolicy
 * "reject", a DMARC fail of a p=reject domain is refused (exit 82, D text
 * on fd 6) and a DNS failure deferred (Z text). With $RELAYCLIENT set (our
 * own users) the message is passed on untouched. Links libcrypto; runs as
 * qmaild; the message and every DNS answer are untrusted. */
#include <errno.h>
#include <fcntl.h>
#include <stdnoreturn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include "bio.h"
#include "sa.h"
#include "str.h"
#include "control.h"
#include "dkim.h"
#include "dns.h"
#include "auto.h"

#define MAXHEADER (1024 * 1024)  /* header bytes checked; beyond, passed on as is */
#define MAXFIELDS 2000
#define MAXSIGS 8                 /* signatures checked; the rest are reported as not checked */
#define MAXHNAMES 512             /* names in one h= */
#define MAXSECONDS 30             /* for all DNS lookups: past it, temperror */

static noreturn void qqexit(int code) { _exit(code); }
static noreturn void die_nomem(void) { qqexit(51); }
static noreturn void die_read(void) { qqexit(54); }
static noreturn void die_write(void) { qqexit(53); }

static sa me = SA_ZERO;
static sa header = SA_ZERO;          /* the whole header, up to the empty line */
static sa fields[MAXFIELDS];         /* each field of header, newlines kept */
static size_t nfields, headerend;    /* headerend: file offset of the body */
static int headerok = 1;
static int blankline;                /* the header ended with an empty line */
static int msgfd;
static struct dns_conf dns;
static sa ar = SA_ZERO;              /* the new Authentication-Results field */
static time_t started;

static int outoftime(void) { return time(0) - started > MAXSECONDS; }

/* ---- the message ---- */

static int tmpfile_(void)
{
  int fd = open("/tmp", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
  if (fd == -1) fd = memfd_create("qmail-dkimverify", MFD_CLOEXEC);
  if (fd == -1) qqexit(errno == ENOMEM ? 51 : 53);
  return fd;
}

/* slurp - fd 0 into a temporary file; the header also into memory */
static void slurp(void)
{
  char buf[BIO_SIZE];
  ssize_t r;
  size_t total = 0;
  int inheader = 1, nl = 1;

  msgfd = tmpfile_();
  while ((r = bio_rawread(0, buf, sizeof buf, 0)) > 0) {
    if (!bio_writeall(msgfd, buf, (size_t)r, 0)) die_write();
    for (ssize_t i = 0; i < r && inheader; ++i) {
      if (buf[i] == '\n' && nl) { inheader = 0; blankline = 1; headerend = total + (size_t)i + 1; break; }
      nl = buf[i] == '\n';
      if (header.len < MAXHEADER) { if (!sa_append(&header, buf[i])) die_nomem(); }
      else headerok = 0;
    }
    total += (size_t)r;
  }
  if (r < 0) die_read();
  if (inheader) headerend = total;
  /* the fields */
  for (size_t i = 0; i < header.len;) {
    size_t e = i;
    for (;;) {
      e += byte_chr(header.s + e, header.len - e, '\n');
      if (e < header.len) ++e;
      if (e >= header.len || (header.s[e] != ' ' && header.s[e] != '\t')) break;
    }
    if (nfields == MAXFIELDS) { headerok = 0; break; }
    if (!sa_copyb(&fields[nfields++], header.s + i, e - i)) die_nomem();
    i = e;
  }
}

static int isfield(size_t k, const char *name, size_t *body)
{
  size_t n = strlen(name), i;
  const sa *f = &fields[k];
  if (f->len < n || case_diffb(f->s, n, name)) return 0;
  for (i = n; i < f->len && (f->s[i] == ' ' || f->s[i] == '\t'); ++i) {}
  if (i >= f->len || f->s[i] != ':') return 0;
  *body = i + 1;
  return 1;
}

/* ours - an Authentication-Results field whose authserv-id is me */
static int ours(size_t k)
{
  size_t b, e;
  const sa *f = &fields[k];
  if (!isfield(k, "Authentication-Results", &b)) return 0;
  while (b < f->len && (f->s[b] == ' ' || f->s[b] == '\t' || f->s[b] == '\r' || f->s[b] == '\n')) ++b;
  e = b;
  while (e < f->len && f->s[e] != ';' && f->s[e] != ' ' && f->s[e] != '\t' && f->s[e] != '\r' && f->s[e] != '\n' && f->s[e] != '(') ++e;
  return e - b == me.len && !case_diffb(f->s + b, me.len, me.s);
}

/* ---- DKIM verification ---- */

struct sigres {
  const char *result;     /* pass, fail, neutral, policy, permerror, temperror */
  const char *why;
  char d[DNS_NAMELEN], s[DNS_NAMELEN], a[20];
};

static struct sigres sigs[MAXSIGS];
static size_t nsigs, sigsleft;

static void hashout(void *ctx, const char *s, size_t n) { if (!EVP_DigestUpdate((EVP_MD_CTX *)ctx, s, n)) die_nomem(); }

/* bodyhash - sha256 of the canonical body, limited to l bytes when l is
 * not ~0; *total gets the canonical body length */
static void bodyhash(int relaxed, unsigned long long l, unsigned char *md, unsigned long long *total)
{
  char buf[BIO_SIZE];
  struct dkim_body b;
  EVP_MD_CTX *ctx = EVP_MD_CTX_new();
  unsigned mdlen;
  ssize_t r;

  if (!ctx || !EVP_DigestInit_ex(ctx, EVP_sha256(), 0)) die_nomem();
  dkim_body_init(&b, relaxed, hashout, ctx);
  b.limit = l;
  if (lseek(msgfd, (off_t)headerend, SEEK_SET) == -1) die_read();
  while ((r = bio_rawread(msgfd, buf, sizeof buf, 0)) > 0) dkim_body_feed(&b, buf, (size_t)r);
  if (r < 0) die_read();
  dkim_body_end(&b);
  if (!EVP_DigestFinal_ex(ctx, md, &mdlen)) die_nomem();
  EVP_MD_CTX_free(ctx);
  *total = b.count;
}

static int tagis(const struct dkim_tag *t, const char *v) { return t && t->vlen == strlen(v) && !case_diffb(t->val, t->vlen, v); }

static int copyname(char *out, const struct dkim_tag *t)
{
  if (!t || !t->vlen || t->vlen >= DNS_NAMELEN) return 0;
  for (size_t i = 0; i < t->vlen; ++i) {
    unsigned char c = (unsigned char)t->val[i];
    if (c <= 32 || c >= 127 || c == ';' || c == '(' || c == ')' || c == '"' || c == '\\') return 0;
    out[i] = (char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
  }
  out[t->vlen] = 0;
  return 1;
}

static int parseulong(const struct dkim_tag *t, unsigned long long *u)
{
  *u = 0;
  if (!t || !t->vlen || t->vlen > 18) return 0;
  for (size_t i = 0; i < t->vlen; ++i) {
    if (t->val[i] < '0' || t->val[i] > '9') return 0;
    *u = *u * 10 + (unsigned long long)(t->val[i] - '0');
  }
  return 1;
}

/* getkey - the public key for s._domainkey.d: 1, or 0 with r set */
static EVP_PKEY *getkey(struct sigres *r, int ed)
{
  char name[DNS_NAMELEN * 2 + 12];
  sa txt = SA_ZERO, raw = SA_ZERO;
  struct dkim_tags kt;
  const struct dkim_tag *p, *k, *v;
  EVP_PKEY *key = 0;
  size_t n;
  int dr;

  if (strlen(r->s) + strlen(r->d) + 13 > DNS_NAMELEN) { r->result = "permerror"; r->why = "key name too long"; return 0; }
  strcpy(name, r->s); strcat(name, "._domainkey."); strcat(name, r->d);
  if (outoftime()) { r->result = "temperror"; r->why = "out of time"; return 0; }
  dr = dns_txt(&dns, name, &txt, &n);
  if (dr == DNS_MEM) die_nomem();
  if (dr == DNS_SOFT) { r->result = "temperror"; r->why = "key lookup failed"; goto out; }
  if (dr == DNS_HARD || n == 0) { r->result = "permerror"; r->why = "no key"; goto out; }
  if (n > 1 || !dkim_tags_parse(&kt, txt.s, strlen(txt.s))) { r->result = "permerror"; r->why = "bad key record"; goto out; }
  v = dkim_tag(&kt, "v");
  if (v && (!tagis(v, "DKIM1") || kt.t[0].name != v->name)) { r->result = "permerror"; r->why = "bad key version"; goto out; }
  k = dkim_tag(&kt, "k");
  if (ed ? !tagis(k, "ed25519") : (k && !tagis(k, "rsa"))) { r->result = "permerror"; r->why = "key type mismatch"; goto out; }
  p = dkim_tag(&kt, "p");
  if (!p) { r->result = "permerror"; r->why = "bad key record"; goto out; }
  if (!p->vlen) { r->result = "permerror"; r->why = "key revoked"; goto out; }
  if (!dkim_b64dec(&raw, p->val, p->vlen)) { if (errno == ENOMEM) die_nomem(); r->result = "permerror"; r->why = "bad key"; goto out; }
  if (ed) {
    if (raw.len == 32) key = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, 0, (const unsigned char *)raw.s, 32);
  } else {
    const unsigned char *q = (const unsigned char *)raw.s;
    key = d2i_PUBKEY(0, &q, (long)raw.len);
    if (key && EVP_PKEY_base_id(key) != EVP_PKEY_RSA) { EVP_PKEY_free(key); key = 0; }
    if (!key) { q = (const unsigned char *)raw.s; key = d2i_PublicKey(EVP_PKEY_RSA, 0, &q, (long)raw.len); }
    if (key && EVP_PKEY_bits(key) < 1024) { EVP_PKEY_free(key); key = 0; r->result = "permerror"; r->why = "key too short"; goto out; }
  }
  if (!key) { r->result = "permerror"; r->why = "bad key"; }
out:
  sa_free(&txt);
  sa_free(&raw);
  return key;
}

/* verify1 - one DKIM-Signature field */
static void verify1(size_t fi, struct sigres *r)
{
  const sa *f = &fields[fi];
  struct dkim_tags t;
  const struct dkim_tag *v, *a, *b, *bh, *c, *d, *h, *s, *l, *x, *ti;
  size_t body, pick[MAXHNAMES], np, k;
  int hrelaxed = 0, brelaxed = 0, ed, ok;
  unsigned long long lim = ~0ULL, total, u, tt;
  unsigned char md[EVP_MAX_MD_SIZE], hmd[32];
  sa bhraw = SA_ZERO, braw = SA_ZERO, hd = SA_ZERO;
  EVP_PKEY *key = 0;
  EVP_MD_CTX *ctx;

  r->result = "permerror";
  r->why = "bad signature";
  isfield(fi, "DKIM-Signature", &body);
  if (!dkim_tags_parse(&t, f->s + body, f->len - body)) return;
  v = dkim_tag(&t, "v"); a = dkim_tag(&t, "a"); b = dkim_tag(&t, "b"); bh = dkim_tag(&t, "bh");
  c = dkim_tag(&t, "c"); d = dkim_tag(&t, "d"); h = dkim_tag(&t, "h"); s = dkim_tag(&t, "s");
  l = dkim_tag(&t, "l"); x = dkim_tag(&t, "x"); ti = dkim_tag(&t, "t");
  if (!tagis(v, "1") || !a || !b || !bh || !h || !copyname(r->d, d) || !copyname(r->s, s)) { r->why = "missing tag"; return; }
  if (tagis(a, "rsa-sha256")) { ed = 0; strcpy(r->a, "rsa-sha256"); }
  else if (tagis(a, "ed25519-sha256")) { ed = 1; strcpy(r->a, "ed25519-sha256"); }
  else { r->result = "neutral"; r->why = "unsupported algorithm"; return; }
  if (c) {
    size_t sl = byte_chr(c->val, c->vlen, '/');
    const char *hc = c->val, *bc = sl < c->vlen ? c->val + sl + 1 : "simple";
    size_t hl = sl, bl = sl < c->vlen ? c->vlen - sl - 1 : 6;
    if (hl == 7 && !case_diffb(hc, 7, "relaxed")) hrelaxed = 1;
    else if (!(hl == 6 && !case_diffb(hc, 6, "simple"))) { r->why = "bad c="; return; }
    if (bl == 7 && !case_diffb(bc, 7, "relaxed")) brelaxed = 1;
    else if (!(bl == 6 && !case_diffb(bc, 6, "simple"))) { r->why = "bad c="; return; }
  }
  if (l && !parseulong(l, &lim)) { r->why = "bad l="; return; }
  if (x) {
    if (!parseulong(x, &u)) { r->why = "bad x="; return; }
    if (ti && parseulong(ti, &tt) && u < tt) { r->why = "x= before t="; return; }
    if (u < (unsigned long long)time(0)) { r->result = "fail"; r->why = "signature expired"; return; }
  }
  /* h= must sign From */
  np = dkim_hlist(h->val, h->vlen, fields, nfields, pick, MAXHNAMES);
  if (!np) { r->why = "bad or overlong h="; return; }
  {
    int from = 0;
    for (size_t i = 0, e; i <= h->vlen; i = e + 1) {
      size_t st, en;
      e = i + byte_chr(h->val + i, h->vlen - i, ':');
      st = i; en = e;
      while (st < en && (h->val[st] == ' ' || h->val[st] == '\t' || h->val[st] == '\r' || h->val[st] == '\n')) ++st;
      while (en > st && (h->val[en - 1] == ' ' || h->val[en - 1] == '\t' || h->val[en - 1] == '\r' || h->val[en - 1] == '\n')) --en;
      if (en - st == 4 && !case_diffb(h->val + st, 4, "from")) from = 1;
    }
    if (!from) { r->why = "From not signed"; return; }
  }
  if (!dkim_b64dec(&bhraw, bh->val, bh->vlen) || bhraw.len != 32) { r->why = "bad bh="; goto out; }
  if (!dkim_b64dec(&braw, b->val, b->vlen) || !braw.len) { r->why = "bad b="; goto out; }
  key = getkey(r, ed);
  if (!key) goto out;
  bodyhash(brelaxed, lim, md, &total);
  if (l && lim > total) { r->result = "fail"; r->why = "l= longer than the body"; goto out; }
  if (memcmp(md, bhraw.s, 32)) { r->result = "fail"; r->why = "body hash mismatch"; goto out; }
  for (k = 0; k < np; ++k) {
    if (pick[k] == (size_t)-1) continue;
    ok = hrelaxed ? dkim_hrelaxed(&hd, fields[pick[k]].s, fields[pick[k]].len) : dkim_hsimple(&hd, fields[pick[k]].s, fields[pick[k]].len);
    if (!ok) { if (errno == ENOMEM) die_nomem(); r->why = "bad header field"; goto out; }
  }
  {
    sa stripped = SA_ZERO;
    if (!dkim_strip_b(&stripped, f->s, f->len)) die_nomem();
    /* the signature field: canonicalized, without its final CRLF */
    while (stripped.len && (stripped.s[stripped.len - 1] == '\n' || stripped.s[stripped.len - 1] == '\r')) --stripped.len;
    ok = hrelaxed ? dkim_hrelaxed(&hd, stripped.s, stripped.len) : dkim_hsimple(&hd, stripped.s, stripped.len);
    sa_free(&stripped);
    if (!ok) die_nomem();
    hd.len -= 2;
  }
  ctx = EVP_MD_CTX_new();
  if (!ctx) die_nomem();
  if (ed) {
    if (!EVP_Digest(hd.s, hd.len, hmd, 0, EVP_sha256(), 0)) die_nomem();
    ok = EVP_DigestVerifyInit(ctx, 0, 0, 0, key) == 1 &&
         EVP_DigestVerify(ctx, (const unsigned char *)braw.s, braw.len, hmd, sizeof hmd) == 1;
  } else
    ok = EVP_DigestVerifyInit(ctx, 0, EVP_sha256(), 0, key) == 1 &&
         EVP_DigestVerify(ctx, (const unsigned char *)braw.s, braw.len, (const unsigned char *)hd.s, hd.len) == 1;
  EVP_MD_CTX_free(ctx);
  if (!ok) { r->result = "fail"; r->why = "signature did not verify"; goto out; }
  if (l && lim < total) { r->result = "policy"; r->why = "l= leaves part of the body unsigned"; goto out; }
  r->result = "pass";
  r->why = 0;
out:
  if (key) EVP_PKEY_free(key);
  sa_free(&bhraw);
  sa_free(&braw);
  sa_free(&hd);
}

static void verify_all(void)
{
  size_t k, body;
  for (k = 0; k < nfields; ++k) {
    if (!isfield(k, "DKIM-Signature", &body)) continue;
    if (nsigs == MAXSIGS) { ++sigsleft; continue; }
    memset(&sigs[nsigs], 0, sizeof sigs[nsigs]);
    verify1(k, &sigs[nsigs]);
    ++nsigs;
  }
}

/* ---- DMARC ---- */

static char fromdom[DNS_NAMELEN];
static char spfdom[DNS_NAMELEN];
static sa spfclause = SA_ZERO;
static int spfpass;
static const char *dmarc = "none";
static char dmarcpol[16] = "";
static int dmarcreject, dmarctemp;

/* The Public Suffix List (RFC 7489 3.2: the organizational domain is the
 * public suffix plus one label), from Debian's publicsuffix package; read
 * once, at most PSLMAX bytes. Without it the last two labels are taken. */
#define PSLFILE "/usr/share/publicsuffix/public_suffix_list.dat"
#define PSLMAX (4 * 1024 * 1024)
static sa psl = SA_ZERO;
static int psltried;

static void psl_load(void)
{
  char buf[8192];
  ssize_t r;
  int fd;

  psltried = 1;
  fd = open(PSLFILE, O_RDONLY | O_CLOEXEC);
  if (fd == -1) return;
  while ((r = bio_rawread(fd, buf, sizeof buf, 0)) > 0)
    if (psl.len + (size_t)r > PSLMAX || !sa_catb(&psl, buf, (size_t)r)) { psl.len = 0; break; }
  close(fd);
}

static size_t labels(const char *s, size_t n)
{
  size_t i, k = n ? 1 : 0;
  for (i = 0; i < n; ++i) if (s[i] == '.') ++k;
  return k;
}

/* endswith - d[0..dn) is r[0..rn) or ends in "." r */
static int endswith(const char *d, size_t dn, const char *r, size_t rn)
{
  if (rn > dn || case_diffb(d + dn - rn, rn, r)) return 0;
  return rn == dn || d[dn - rn - 1] == '.';
}

/* suffixlabels - how many labels of d are its public suffix (PSL
 * algorithm: an exception rule wins, else the matching rule with the most
 * labels, else "*"); 0 when there is no list */
static size_t suffixlabels(const char *d)
{
  size_t dn = strlen(d), dl = labels(d, dn), best = 1, pos, end, n;
  if (!psltried) psl_load();
  if (!psl.len) return 0;
  for (pos = 0; pos < psl.len; pos = end + 1) {
    const char *r = psl.s + pos;
    end = pos + byte_chr(r, psl.len - pos, '\n');
    for (n = 0; pos + n < end && r[n] != ' ' && r[n] != '\t' && r[n] != '\r'; ++n) ;
    if (!n || (n >= 2 && r[0] == '/' && r[1] == '/')) continue;
    if (r[0] == '!') {
      if (endswith(d, dn, r + 1, n - 1)) return labels(r + 1, n - 1) - 1;
    } else if (n > 2 && r[0] == '*' && r[1] == '.') {
      size_t bl = labels(r + 2, n - 2);
      if (dl > bl && endswith(d, dn, r + 2, n - 2) && bl + 1 > best) best = bl + 1;
    } else if (endswith(d, dn, r, n) && labels(r, n) > best) best = labels(r, n);
  }
  return best;
}

/* orgdomain - the public suffix of d and one label more (d itself when it
 * is no longer than that); the last two labels without the list */
static const char *orgdomain(const char *d)
{
  size_t n = strlen(d), want = suffixlabels(d), dots = 0;
  if (!want) want = 1;
  while (n-- > 0) if (d[n] == '.' && ++dots == want + 1) return d + n + 1;
  return d;
}

static int aligned(const char *a, const char *b, int strict)
{
  if (!case_diffs(a, b)) return 1;
  return !strict && !case_diffs(orgdomain(a), orgdomain(b));
}

/* fromdomain - the one From address's domain; 0 when not exactly one */
static int fromdomain(void)
{
  size_t k, body, n = 0, lt, at, e;
  const char *v = 0;
  size_t vl = 0;
  for (k = 0; k < nfields; ++k)
    if (isfield(k, "From", &body)) { ++n; v = fields[k].s + body; vl = fields[k].len - body; }
  if (n != 1) return 0;
  if (memchr(v, ',', vl)) return 0;        /* more than one author */
  lt = byte_chr(v, vl, '<');
  if (lt < vl) { v += lt + 1; vl -= lt + 1; vl = byte_chr(v, vl, '>'); }
  at = byte_rchr(v, vl, '@');
  if (at == vl) return 0;
  for (e = at + 1; e < vl; ++e)
    if (v[e] == '>' || v[e] == ' ' || v[e] == '\t' || v[e] == '\r' || v[e] == '\n' || v[e] == '(' || v[e] == ';') break;
  if (e - at - 1 == 0 || e - at - 1 >= DNS_NAMELEN) return 0;
  memcpy(fromdom, v + at + 1, e - at - 1);
  fromdom[e - at - 1] = 0;
  for (char *p = fromdom; *p; ++p) {
    if (*p >= 'A' && *p <= 'Z') *p += 32;
    if ((unsigned char)*p <= 32 || (unsigned char)*p >= 127 || strchr(";()\"\\", *p)) return 0;
  }
  return 1;
}

/* policy - the DMARC record for d: 1 found (tags in t, text in txt), 0 none, -1 DNS trouble */
static int policy(const char *d, sa *txt, struct dkim_tags *t)
{
  char name[DNS_NAMELEN + 8];
  size_t n, pos;
  int r, found = 0;
  if (strlen(d) + 8 > DNS_NAMELEN) return 0;
  strcpy(name, "_dmarc."); strcat(name, d);
  if (outoftime()) return -1;
  r = dns_txt(&dns, name, txt, &n);
  if (r == DNS_MEM) die_nomem();
  if (r == DNS_SOFT) return -1;
  if (r != DNS_OK) return 0;
  for (pos = 0; pos < txt->len; pos += strlen(txt->s + pos) + 1) {
    const char *x = txt->s + pos;
    if (case_diffb(x, 8, "v=DMARC1") || (x[8] && x[8] != ';' && x[8] != ' ' && x[8] != '\t')) continue;
    if (found++) return 0;                    /* more than one: none applies */
    if (!dkim_tags_parse(t, x, strlen(x))) return 0;
  }
  return found == 1;
}

static void dmarc_eval(void)
{
  sa txt = SA_ZERO;
  struct dkim_tags t;
  const struct dkim_tag *p, *sp, *adkim, *aspf;
  int r, sub = 0, pass = 0;
  size_t k;

  if (!fromdomain()) { dmarc = "permerror"; return; }
  r = policy(fromdom, &txt, &t);
  if (r == 0 && strcmp(orgdomain(fromdom), fromdom)) { r = policy(orgdomain(fromdom), &txt, &t); sub = 1; }
  if (r < 0) { dmarc = "temperror"; dmarctemp = 1; goto out; }
  if (r == 0) { dmarc = "none"; goto out; }
  p = dkim_tag(&t, "p");
  sp = dkim_tag(&t, "sp");
  if (sub && sp) p = sp;
  if (!p || !(tagis(p, "none") || tagis(p, "quarantine") || tagis(p, "reject"))) { dmarc = "permerror"; goto out; }
  memcpy(dmarcpol, p->val, p->vlen);
  dmarcpol[p->vlen] = 0;
  case_lowerb(dmarcpol, p->vlen);
  adkim = dkim_tag(&t, "adkim");
  aspf = dkim_tag(&t, "aspf");
  for (k = 0; k < nsigs; ++k)
    if (!strcmp(sigs[k].result, "pass") && aligned(sigs[k].d, fromdom, tagis(adkim, "s"))) pass = 1;
  if (spfpass && spfdom[0] && aligned(spfdom, fromdom, tagis(aspf, "s"))) pass = 1;
  dmarc = pass ? "pass" : "fail";
  if (!pass && !strcmp(dmarcpol, "reject")) dmarcreject = 1;
out:
  sa_free(&txt);
}

/* spf_from_smtpd - the spf clause of qmail-smtpd's own field: the first,
 * right above qmail-smtpd's Received field (anything from outside comes
 * below that) */
static void spf_from_smtpd(void)
{
  size_t b, i;
  const sa *f;
  if (nfields < 2 || !ours(0) || !isfield(1, "Received", &b)) return;
  f = &fields[0];
  b = byte_chr(f->s, f->len, ';');
  if (b == f->len) return;
  for (i = b + 1; i < f->len && (f->s[i] == ' ' || f->s[i] == '\t' || f->s[i] == '\n' || f->s[i] == '\r'); ++i) {}
  if (f->len - i < 4 || memcmp(f->s + i, "spf=", 4)) return;
  if (!sa_copyb(&spfclause, f->s + i, f->len - i)) die_nomem();
  while (spfclause.len && (spfclause.s[spfclause.len - 1] == '\n' || spfclause.s[spfclause.len - 1] == '\r')) --spfclause.len;
  spfpass = spfclause.len >= 8 && !memcmp(spfclause.s, "spf=pass", 8);
  {
    const char *m = 0;
    size_t at;
    for (at = 0; at + 14 <= spfclause.len; ++at)
      if (!memcmp(spfclause.s + at, "smtp.mailfrom=", 14)) { m = spfclause.s + at + 14; break; }
    if (m) {
      size_t n = (size_t)(spfclause.s + spfclause.len - m);
      n = byte_chr(m, n, ' ');
      if (n < DNS_NAMELEN) { memcpy(spfdom, m, n); spfdom[n] = 0; }
    }
  }
}

/* ---- the result ---- */

static void cat(const char *s) { if (!sa_cats(&ar, s)) die_nomem(); }

static void build(void)
{
  size_t k;
  cat("Authentication-Results: ");
  if (!sa_cat(&ar, &me)) die_nomem();
  if (spfclause.len) { cat(";\n\t"); if (!sa_cat(&ar, &spfclause)) die_nomem(); }
  if (!nsigs) cat(";\n\tdkim=none");
  for (k = 0; k < nsigs; ++k) {
    cat(";\n\tdkim=");
    cat(sigs[k].result);
    if (sigs[k].why) { cat(" ("); cat(sigs[k].why); cat(")"); }
    if (sigs[k].d[0]) { cat(" header.d="); cat(sigs[k].d); }
    if (sigs[k].s[0]) { cat(" header.s="); cat(sigs[k].s); }
    if (sigs[k].a[0]) { cat(" header.a="); cat(sigs[k].a); }
  }
  cat(";\n\tdmarc=");
  cat(dmarc);
  if (dmarcpol[0]) { cat(" (p="); cat(dmarcpol); cat(")"); }
  if (fromdom[0]) { cat(" header.from="); cat(fromdom); }
  cat("\n");
}

/* refuse - exit 82 with text for qmail-smtpd; the envelope read first so
 * that the writer sees no broken pipe */
static noreturn void refuse(const char *text)
{
  char buf[1024];
  while (read(1, buf, sizeof buf) > 0) {}
  bio_writeall(6, text, strlen(text), 0);
  qqexit(82);
}

/* runqueue - exec the real qmail-queue on the fd 0 we leave */
static noreturn void runqueue(void)
{
  char qqpath[4096];
  const char *qq = getenv("QMAILAUTHQUEUE");
  char *argv[2];

  if (!qq || !*qq) {
    if (strlen(auto_home) + sizeof "/bin/qmail-queue" > sizeof qqpath) qqexit(61);
    strcpy(qqpath, auto_home);
    strcat(qqpath, "/bin/qmail-queue");
    qq = qqpath;
  }
  argv[0] = (char *)qq;
  argv[1] = 0;
  execv(qq, argv);
  qqexit(errno == ENOENT ? 61 : 71);
}

int main(void)
{
  sa pol = SA_ZERO;
  int out, rejectmode = 0;
  size_t k;

  if (chdir(auto_home) == -1) qqexit(61);
  if (getenv("RELAYCLIENT")) runqueue();  /* our own users' mail: passed on untouched */
  if (control_me(&me) == -1) qqexit(55);
  switch (control_readline(&pol, "control/dmarcpolicy")) {
    case -1: qqexit(55);
    case 1: rejectmode = pol.len == 6 && !memcmp(pol.s, "reject", 6);
  }
  dns_init(&dns, 0);
  dns.timeout_ms = 3000;
  slurp();
  started = time(0);                 /* after the message: DATA may be slow */
  if (headerok) {
    spf_from_smtpd();
    verify_all();
    dmarc_eval();
  } else {
    dmarc = "permerror";
    if (!sa_copys(&spfclause, "")) die_nomem();
  }
  if (rejectmode && dmarcreject) refuse("D550 DMARC policy of the From domain says to reject this message (#5.7.1)");
  if (rejectmode && dmarctemp) refuse("ZDMARC policy could not be looked up now (#4.7.0)");
  build();

  /* the new message: our field, the header without fields of ours, the body */
  out = tmpfile_();
  if (!bio_writeall(out, ar.s, ar.len, 0)) die_write();
  if (headerok) {
    for (k = 0; k < nfields; ++k)
      if (!ours(k) && !bio_writeall(out, fields[k].s, fields[k].len, 0)) die_write();
    if (blankline && !bio_writeall(out, "\n", 1, 0)) die_write();
  } else headerend = 0;
  if (lseek(msgfd, (off_t)headerend, SEEK_SET) == -1) die_read();
  {
    char buf[BIO_SIZE];
    ssize_t r;
    while ((r = bio_rawread(msgfd, buf, sizeof buf, 0)) > 0)
      if (!bio_writeall(out, buf, (size_t)r, 0)) die_write();
    if (r < 0) die_read();
  }
  if (lseek(out, 0, SEEK_SET) == -1 || dup2(out, 0) == -1) die_write();
  runqueue();
}
