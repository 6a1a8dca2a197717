/* qmail-queue-entry - the ELF entry point of qmail-queue's musl build
 * (the Makefile links it with --entry=entry_start on x86_64).
 * qmail-queue is setuid, and musl's start-up (__init_libc, under
 * AT_SECURE) opens /dev/null onto a closed fd 0, 1 or 2 before main runs:
 * a closed fd 0 would then read as an empty message, which must be exit
 * 54 instead. So the kernel starts us here: entry_check looks at fds 0
 * and 1 with raw system calls and records what it saw in entry_badfd,
 * then musl's _start runs as if it had been the entry, with the stack
 * exactly as the kernel left it. Nothing of libc may run this early (no
 * TLS, no errno): hence the inline system call, and no stack protector,
 * whose canary lives in the TLS block.
 * The glibc build links this file too but starts at glibc's _start, so
 * entry_check never runs and entry_badfd stays 0; glibc's own start-up
 * puts a descriptor that fails every read on a closed fd 0, which main's
 * own check (fds) refuses. */
#include <fcntl.h>
#include <sys/syscall.h>

#include "qmail-queue.h"

int entry_badfd;

#if defined(__x86_64__)

#if defined(__has_attribute)
#if __has_attribute(no_stack_protector)
#define NOSSP __attribute__((no_stack_protector))
#endif
#endif
#ifndef NOSSP
#define NOSSP
#endif

/* fcntl(fd, F_GETFL) without libc: the flags, or -errno */
static NOSSP long getfl(long fd)
{
  long r;
  __asm__ volatile ("syscall"
                    : "=a"(r)
                    : "0"((long)SYS_fcntl), "D"(fd), "S"((long)F_GETFL)
                    : "rcx", "r11", "memory");
  return r;
}

/* the test of fds() in qmail-queue.c, made before anything can reopen */
void entry_check(void);
NOSSP void entry_check(void)
{
  long fd;
  long fl;

  for (fd = 0; fd < 2; ++fd) {
    fl = getfl(fd);
    if (fl < 0 || (fl & O_ACCMODE) == O_WRONLY) entry_badfd = 1;
  }
}

/* The kernel enters with %rsp 16-byte aligned at argc, so the call sees
 * the alignment the ABI promises a function. %rdx (a function for atexit
 * by the ABI; musl ignores it) is kept in %r12, which entry_check must
 * preserve, and the jump hands the untouched stack to _start. */
__asm__(
  ".text\n"
  ".globl entry_start\n"
  ".type entry_start,@function\n"
  "entry_start:\n"
  "  mov %rdx, %r12\n"
  "  call entry_check\n"
  "  mov %r12, %rdx\n"
  "  jmp _start\n"
  ".size entry_start, .-entry_start\n");

#endif
