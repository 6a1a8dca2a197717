/* fuzz - the contract between driver.c and each harness of tests/fuzz.
 * A harness defines fuzz_one, which gets one input in a buffer of exactly
 * len bytes (so AddressSanitizer sees any read past it) and returns; a
 * broken property is reported with fuzz_fail, which aborts (AFL counts a
 * crash, the corpus replay fails). fuzz_fd gives an fd that reads the
 * bytes, for code that reads through a bio or a cdb. */
#ifndef FUZZ_H
#define FUZZ_H

#include <stddef.h>
#include <stdnoreturn.h>

void fuzz_one(const unsigned char *data, size_t len);
noreturn void fuzz_fail(const char *what);
/* fuzz_fd - a new fd open on a memory file holding data[0..len), at
 * offset 0; the caller closes it. Aborts when it cannot make one. */
int fuzz_fd(const unsigned char *data, size_t len);

#endif
