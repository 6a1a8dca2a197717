/* sig - signal handling with sigaction, no SA_RESTART, so slow calls see
 * EINTR and the main loop can notice a flag. */
#ifndef SIG_H
#define SIG_H

void sig_catch(int sig, void (*f)(int));
void sig_ignore(int sig);
void sig_default(int sig);
void sig_block(int sig);
void sig_unblock(int sig);
void sig_blocknone(void);

#endif
