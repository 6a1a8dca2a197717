/* The DATA stream: from the client's dot-stuffed CR LF text to the LF text
 * qmail-queue stores; and the BDAT chunks (RFC 3030), CR LF text without
 * dot-stuffing, stored the same way, so a message queued through BDAT is
 * byte for byte the one DATA would have queued. Memory use is fixed: bytes
 * go through a small buffer whatever the length of a line, of a chunk or
 * of the message. */
#include <string.h>

#include "qmail-smtpd.h"
#include "str.h"

/* where the reader is in the SMTP text */
enum { LINESTART, MID, CR, DOT, DOTCR };

/* the longest header field name looked at for hop counting */
#define NAMEMAX 16

struct blast {
  qmail *q;
  unsigned long databytes;
  unsigned long bytes;       /* stored so far, saturating */
  unsigned long hops;
  int toobig;
  int inheader;              /* still in the header */
  int atbol;                 /* output is at the start of a line */
  int naming;                /* collecting the field name of this line */
  char name[NAMEMAX];
  size_t namelen;
  char buf[4096];
  size_t len;
};

static void flushbuf(struct blast *b)
{
  if (b->len) qmail_put(b->q, b->buf, b->len);
  b->len = 0;
}

/* fieldname - the line's field name ends here: count it if it is a hop */
static void fieldname(struct blast *b)
{
  size_t n = b->namelen;
  b->naming = 0;
  while (n && (b->name[n - 1] == ' ' || b->name[n - 1] == '\t')) --n;
  if ((n == 8 && !case_diffb(b->name, 8, "received")) ||
      (n == 12 && !case_diffb(b->name, 12, "delivered-to")))
    ++b->hops;
}

/* emit - one byte of the stored message */
static void emit(struct blast *b, char c)
{
  if (b->inheader) {
    if (b->atbol) {
      if (c == '\n') b->inheader = 0;   /* the empty line ends the header */
      else if (c != ' ' && c != '\t') { b->naming = 1; b->namelen = 0; }
    }
    if (b->naming) {
      if (c == ':') fieldname(b);
      else if (c == '\n' || b->namelen == NAMEMAX) b->naming = 0;
      else b->name[b->namelen++] = c;
    }
  }
  b->atbol = c == '\n';
  if (b->toobig) return;
  if (b->databytes && ++b->bytes > b->databytes) {
    b->toobig = 1;
    qmail_fail(b->q);
    return;
  }
  if (b->len == sizeof b->buf) flushbuf(b);
  b->buf[b->len++] = c;
}

static struct blast b;

static void blast_start(qmail *q, unsigned long databytes)
{
  memset(&b, 0, sizeof b);
  b.q = q;
  b.databytes = databytes;
  b.inheader = 1;
  b.atbol = 1;
}

void data_blast(qmail *q, unsigned long databytes, unsigned long *hops, int *toobig)
{
  int state = LINESTART;
  const char *p;
  size_t n, i;

  blast_start(q, databytes);
  for (;;) {
    if (!bio_avail(&smtpd_in)) { flushbuf(&b); smtpd_feed(); }
    p = bio_peek(&smtpd_in);
    n = bio_avail(&smtpd_in);
    for (i = 0; i < n; ++i) {
      char c = p[i];
      switch (state) {
        case LINESTART:
          if (c == '.') { state = DOT; continue; }
          /* fall through */
        case MID:
          if (c == '\r') { state = CR; continue; }
          if (c == '\n') straynewline();
          emit(&b, c);
          state = MID;
          continue;
        case CR:
          if (c != '\n') straynewline();   /* a bare CR */
          emit(&b, '\n');
          state = LINESTART;
          continue;
        case DOT:
          if (c == '\r') { state = DOTCR; continue; }
          if (c == '\n') straynewline();
          emit(&b, c);                    /* ".x" carries "x": unstuffed */
          state = MID;
          continue;
        case DOTCR:
          if (c != '\n') straynewline();
          bio_skip(&smtpd_in, i + 1);     /* the rest is the next command */
          flushbuf(&b);
          if (b.toobig) qmail_fail(q);
          *hops = b.hops;
          *toobig = b.toobig;
          return;
      }
    }
    bio_skip(&smtpd_in, n);
  }
}

/* BDAT: a CR at the end of one chunk may meet its LF in the next */
static int bdatcr;

void bdat_start(qmail *q, unsigned long databytes)
{
  blast_start(q, databytes);
  bdatcr = 0;
}

void bdat_chunk(unsigned long n)
{
  const char *p;
  size_t k, i;

  while (n) {
    if (!bio_avail(&smtpd_in)) { flushbuf(&b); smtpd_feed(); }
    p = bio_peek(&smtpd_in);
    k = bio_avail(&smtpd_in);
    if (k > n) k = n;
    for (i = 0; i < k; ++i) {
      char c = p[i];
      if (bdatcr) {
        if (c != '\n') straynewline();   /* a bare CR */
        bdatcr = 0;
        emit(&b, '\n');
        continue;
      }
      if (c == '\r') { bdatcr = 1; continue; }
      if (c == '\n') straynewline();     /* a bare LF */
      emit(&b, c);
    }
    bio_skip(&smtpd_in, k);
    n -= k;
  }
}

int bdat_toobig(void) { return b.toobig; }

void bdat_end(unsigned long *hops, int *toobig)
{
  if (bdatcr && !b.toobig) straynewline();   /* too big: refused anyway */
  if (!b.atbol) emit(&b, '\n');          /* as DATA would end it */
  flushbuf(&b);
  if (b.toobig) qmail_fail(b.q);
  *hops = b.hops;
  *toobig = b.toobig;
}

void bdat_skip(unsigned long n)
{
  size_t k;
  while (n) {
    smtpd_feed();
    k = bio_avail(&smtpd_in);
    if (k > n) k = n;
    bio_skip(&smtpd_in, k);
    n -= k;
  }
}
