/* qmail-send-bounce - permanent failures and bounce messages (QSBMF).
 * bounce_add appends one paragraph to bounce/<id> and fsyncs it before the
 * caller marks the recipient done, so a crash cannot lose a failure; a
 * crash between the two at worst repeats a paragraph. When the message is
 * finished, bounce_inject sends bounce/<id> with a copy of the message to
 * the sender (a double bounce to doublebounceto when the sender is empty;
 * a failed double bounce is dropped and logged), then removes bounce/<id>. */
#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bio.h"
#include "date822.h"
#include "open.h"
#include "qmail.h"
#include "qsbmf.h"
#include "quote.h"
#include "rewrite.h"
#include "qmail-send.h"

static sa bouncetext = SA_ZERO;

void bounce_add(unsigned long id, const char *recip, const char *report, size_t len)
{
  char f[QFN_SIZE];
  int fd;

  bouncetext.len = 0;
  while (!qsbmf_para(&bouncetext, rewrite_unprepend(recip, &send_ctl()->vdoms), report, len)) {
    bouncetext.len = 0;
    log_nomem();
  }
  for (;;) {
    fd = open_append(queue_fn(f, "bounce", id));
    if (fd != -1) {
      if (bio_writeall(fd, bouncetext.s, bouncetext.len, 0) && fsync(fd) == 0) {
        close(fd);
        return;
      }
      /* a partial paragraph would repeat; qmail accepts that too */
      close(fd);
    }
    log_line("alert: unable to append to bounce message; HELP! sleeping...\n", NULL);
    sleep(10);
  }
}

/* copy - the whole file f into the message; 0 on a read error */
static int copy(qmail *q, const char *f)
{
  char buf[8192];
  ssize_t r;
  int fd = open_read(f);

  if (fd == -1) return 0;
  for (;;) {
    r = read(fd, buf, sizeof buf);
    if (r == -1 && errno == EINTR) continue;
    if (r <= 0) break;
    qmail_put(q, buf, (size_t)r);
  }
  close(fd);
  return r == 0;
}

int bounce_inject(unsigned long id)
{
  static sa sender = SA_ZERO, hdr = SA_ZERO;
  const send_controls *ctl = send_ctl();
  char num[FMT_ULONG], num2[FMT_ULONG], bf[QFN_SIZE], f[QFN_SIZE];
  const char *bsender, *brecip;
  struct stat st;
  time_t birth;
  qmail q;
  size_t slen;

  /* no bounce: info is not even read (after a crash, a finished message
   * that was never committed may have lost its contents) */
  if (stat(queue_fn(bf, "bounce", id), &st) == -1) {
    if (errno == ENOENT) return 1;
    log_line("warning: unable to stat ", bf, "\n", NULL);
    return 0;
  }
  if (!queue_info(id, &sender, &birth)) {
    log_line("warning: trouble reading ", queue_fn(f, "info", id), "; will try again later\n", NULL);
    return 0;
  }
  /* owner-@host-@[] -> owner-@host: the bounce goes to the list owner */
  slen = sender.len - 1;
  if (slen >= 5 && !memcmp(sender.s + slen - 4, "-@[]", 4)) {
    slen -= 4;
    sender.s[slen] = 0;
    sender.len = slen + 1;
  }
  if (!strcmp(sender.s, "#@[]"))
    log_line("triple bounce: discarding ", bf, "\n", NULL);
  else {
    if (qmail_open(&q) == -1) {
      log_line("warning: unable to start qmail-queue, will try later\n", NULL);
      return 0;
    }
    if (*sender.s) { bsender = ""; brecip = sender.s; }
    else { bsender = "#@[]"; brecip = ctl->doublebounceto.s; }
    hdr.len = 0;
    if (!sa_cats(&hdr, "Date: ") || !date822_fmt(&hdr, time(0)) ||
        !sa_cats(&hdr, "\nFrom: ") || !quote_cat(&hdr, ctl->bouncefrom.s, ctl->bouncefrom.len) ||
        !sa_append(&hdr, '@') || !sa_cat(&hdr, &ctl->bouncehost) ||
        !sa_cats(&hdr, "\nTo: ") || !quote_addr(&hdr, brecip, strlen(brecip)) ||
        !sa_cats(&hdr, "\nSubject: failure notice\n\nHi. This is the qmail-send program at ") ||
        !sa_cat(&hdr, &ctl->bouncehost)) {
      qmail_fail(&q);
      hdr.len = 0;
    }
    qmail_put(&q, hdr.s ? hdr.s : "", hdr.len);
    if (*sender.s)
      qmail_puts(&q, ".\nI'm afraid I wasn't able to deliver your message to the following addresses.\n"
                     "This is a permanent error; I've given up. Sorry it didn't work out.\n\n");
    else
      qmail_puts(&q, ".\nI tried to deliver a bounce message to this address, but the bounce bounced!\n\n");
    if (!copy(&q, bf)) qmail_fail(&q);
    qmail_puts(&q, *sender.s ? "--- Below this line is a copy of the message.\n\n"
                             : "--- Below this line is the original bounce.\n\n");
    hdr.len = 0;
    if (!sa_cats(&hdr, "Return-Path: <") || !quote_addr(&hdr, sender.s, sender.len - 1) ||
        !sa_cats(&hdr, ">\n")) {
      qmail_fail(&q);
      hdr.len = 0;
    }
    qmail_put(&q, hdr.s ? hdr.s : "", hdr.len);
    if (!copy(&q, queue_fn(f, "mess", id))) qmail_fail(&q);
    qmail_from(&q, bsender);
    qmail_to(&q, brecip);
    if (*qmail_close(&q)) {
      log_line("warning: trouble injecting bounce message, will try later\n", NULL);
      return 0;
    }
    log_line("bounce msg ", log_ul(num, id), " qp ", log_ul(num2, qmail_qp(&q)), "\n", NULL);
  }
  if (unlink(bf) == -1) {
    log_line("warning: unable to unlink ", bf, "\n", NULL);
    return 0;
  }
  return 1;
}
