/* options - default ASan and UBSan options compiled into every program of
 * the sanitize build (make sanitize). The tests and the daemons clear the
 * environment before they run a program (qmail-lspawn, tcpserver, env -i),
 * so ASAN_OPTIONS would not reach most processes: the runtime asks these
 * functions instead. Every report goes to SAN_LOGDIR/report.PID (a
 * directory every uid may write), and make sanitize fails when any such
 * file exists after the tests. malloc may return NULL (the programs and
 * the unit tests handle ENOMEM, and ask for impossible sizes on purpose). */
#ifndef SAN_LOGDIR
#error "compile with -DSAN_LOGDIR='\"/path\"'"
#endif

const char *__asan_default_options(void);
const char *__ubsan_default_options(void);

/* no leak checks: the programs exit without freeing by design, and
 * LeakSanitizer cannot run under ptrace (the strace fault tests); core
 * limits left as they are (qmail-start passes its limits on) */
const char *__asan_default_options(void)
{
  return "log_path=" SAN_LOGDIR "/report:detect_leaks=0:allocator_may_return_null=1:"
         "allow_user_segv_handler=1:disable_coredump=0";
}

const char *__ubsan_default_options(void)
{
  return "log_path=" SAN_LOGDIR "/report:print_stacktrace=1:halt_on_error=1";
}
