/* handoff - a server helper's connection handed to the resident engine,
 * ucspi-tlsd -d (ucspi-tlsd(8)): the message on the engine's socket and
 * the helper's side of it (handoff.c); the engine's side is in
 * ucspi-tlsd-engine.c.
 *
 * On one connection to the socket, from root or the engine's account only:
 *   helper: struct handoff, with SCM_RIGHTS: the network's read and write
 *     descriptors (0, 1), its stderr (2), the read end of prog's output,
 *     the write end of prog's input, and without -i the engine's end of
 *     the UCSPI-TLS control socket;
 *   worker: 'k', once it runs as the engine's account;
 *   helper: 'g', and from then on the connection is the worker's. A
 *     worker that reads anything else (the helper gave up waiting and
 *     closed) exits having touched nothing, so one of the two serves the
 *     connection, never both;
 *   worker (-i only): the handshake's SSL_PROTOCOL=...\0SSL_CIPHER=...\0,
 *     then EOF.
 * A failed handshake ends the worker with its message on the helper's
 * stderr, as if the helper had done it, and the helper exits 111. */
#ifndef HANDOFF_H
#define HANDOFF_H

#define HANDOFF_NFD 6       /* descriptors handed over: 5 with -i */
#define HANDOFF_TAKE 10     /* seconds the helper waits for 'k' */
#define HANDOFF_TALK 5      /* seconds the engine waits for a request or 'g' */

struct handoff {
  char magic[4];            /* "TLS1": the two sides are one build */
  unsigned immed;           /* -i */
  unsigned hsecs, idle;     /* -h and -t */
};

extern const char handoff_magic[4];

/* handoff - hand the connection to the engine on path and become prog
 * (never returns then); returns, with a warning on stderr and nothing
 * changed, when the engine is not there or does not take it */
void handoff(const char *path, int immed, unsigned hsecs, unsigned idle, char **prog);

void handoff_close(int *fd, int n);     /* close each of fd[0..n-1] that is not -1 */

#endif
