/* sig - signal handling with sigaction, no SA_RESTART, so slow calls see
 * EINTR and the main loop can notice a flag. Handlers are installed with
 * an empty mask; sig_block and sig_unblock change the process mask for
 * one signal. Nothing here fails in a way a caller can act on. */
#ifndef SIG_H
#define SIG_H

void sig_catch(int sig, void (*f)(int));
void sig_ignore(int sig);
void sig_default(int sig);
void sig_block(int sig);
void sig_unblock(int sig);
void sig_blocknone(void);

#endif
