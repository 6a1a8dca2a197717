/* envaddr - the one check every mail receiver (qmail-smtpd, qmail-qmtpd,
 * qmail-qmqpd) applies to each envelope address before it enters the queue.
 * A NUL would split an envelope record; a CR or LF would end a header line
 * when qmail-local writes the address into Delivered-To or Return-Path, so
 * none of the three is allowed anywhere in an address. envaddr_bad returns
 * 0 when s[0..n) may be used, else a constant text saying what is wrong
 * (for a log line or a reply). */
#ifndef ENVADDR_H
#define ENVADDR_H

#include <stddef.h>

const char *envaddr_bad(const char *s, size_t n);

#endif
