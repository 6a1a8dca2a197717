# Plain make. Every program is src/<stage>/<program>.c (the file with main)
# plus any src/<stage>/<program>-<part>.c that is not itself a program;
# shell programs are src/<stage>/<program>.sh. Extra link flags for one
# program go in src/<stage>/<program>.libs: a system library beyond libc
# (-lcrypt), or -static for a program run once per message that looks up at
# most the qmail accounts in /etc/passwd. A -static program is built with
# musl (Debian's musl-tools, `musl-gcc`) when it is there: its objects and
# libraries are compiled again under $(O)/musl/, and an exec of it costs
# about a quarter of a static glibc one, whose start-up asks the CPU for
# its features (CPUID, a trap on a virtual machine) and sets up far more.
# A word --entry=SYMBOL beside -static gives the musl build its own ELF
# entry point, code of the program's that runs before musl's start-up and
# then jumps to musl's _start; it is x86_64 assembly, so elsewhere such a
# program stays glibc, and the glibc link leaves the word out. qmail-queue
# has one (src/queue/qmail-queue-entry.c): it is setuid and must see a
# closed fd 0 or 1 as closed, and musl's start-up, when setuid, opens
# /dev/null there (an empty message) before main runs; glibc's puts a
# descriptor there that fails every read. Without musl-gcc (or with
# MUSLCC= empty, or NOLIBS=-static as make sanitize and make fuzz set) a
# -static program is linked -static with glibc (glibc answers the qmail
# accounts from /etc/passwd with its built-in files backend; the linker's
# warning about NSS in static programs is about the other backends).
# Generated files go to $(O).
#
# Libraries, linked in this order: a program's own parts; $(O)/<stage>.a,
# the modules of its stage (every other .c file of src/<stage>: neither a
# program nor a program's part); $(O)/mail.a (src/mail, what two stages
# share); $(O)/lib.a (src/lib, nothing of mail). Each program's parts are
# also archived as $(O)/part/<program>.a, so that the unit runner and the
# fuzz harnesses link every stage and part library and take only the
# members they call (their stubs stand in for the program's main file);
# their objects see every stage directory on the include path.
#
#   make                 build everything into $(O) (default build/)
#   make setup check     install into conf-home (or QMAILHOME=...) and check it
#   make test            install test dependencies, build a hermetic home, run
#                        the unit and system tests
#   make try             start a self-contained MTA on 127.0.0.1
#   make deb             a Debian package for /var/qmail (scripts/deb.sh)
#   make bench           benchmarks against Postfix (bench/README.md)
#   make sanitize        make test's build and tests under ASan and UBSan
#   make fuzz            run each AFL++ harness for FUZZTIME seconds (tests/fuzz)

O ?= build
QMAILHOME ?= $(shell head -n 1 conf-home)
CC := $(shell head -n 1 conf-cc)
LD := $(shell head -n 1 conf-ld)
WERROR ?=
NOLIBS ?=
CFLAGS_ALL = $(WERROR) -MMD -MP -Isrc/lib -Isrc/mail -I$(O)/gen

PROGSRC := $(shell grep -l '^int main\>' src/*/*.c 2>/dev/null | grep -v -e '^src/lib/' -e '^src/mail/')
SCRIPTSRC := $(wildcard src/*/*.sh)
PROGS := $(notdir $(basename $(PROGSRC) $(SCRIPTSRC)))
LIBSRC := $(wildcard src/lib/*.c)
MAILSRC := $(wildcard src/mail/*.c)
UNITSRC := $(wildcard tests/unit/*.c)

obj = $(patsubst %.c,$(O)/obj/%.o,$(1))
MUSLCC ?= $(shell command -v musl-gcc 2>/dev/null)
STATICCC := $(if $(filter -static,$(NOLIBS)),,$(MUSLCC))
mobj = $(patsubst %.c,$(O)/musl/obj/%.o,$(1))
libsof = $(shell cat $(basename $(1)).libs 2>/dev/null)
ARCH := $(shell uname -m)
musl = $(and $(STATICCC),$(filter -static,$(call libsof,$(1))),$(if $(filter --entry=%,$(call libsof,$(1))),$(filter x86_64,$(ARCH)),y))
parts = $(filter-out $(PROGSRC),$(wildcard $(basename $(1))-*.c))
STAGES := $(filter-out lib mail,$(notdir $(wildcard src/*)))
ALLPARTS := $(foreach p,$(PROGSRC),$(call parts,$(p)))
stagesrc = $(filter-out $(PROGSRC) $(ALLPARTS),$(wildcard src/$(1)/*.c))
STAGEA := $(foreach s,$(STAGES),$(if $(call stagesrc,$(s)),$(O)/$(s).a))
stagea = $(filter $(O)/$(word 2,$(subst /, ,$(1))).a,$(STAGEA))
PARTPROGS := $(foreach p,$(PROGSRC),$(if $(call parts,$(p)),$(p)))
PARTA := $(patsubst %,$(O)/part/%.a,$(notdir $(basename $(PARTPROGS))))

all: $(addprefix $(O)/bin/,$(PROGS)) $(O)/unit

$(O)/obj/%.o: %.c $(O)/gen/auto.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -c -o $@ $<

$(O)/obj/gen/auto.o: $(O)/gen/auto.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -c -o $@ $<

$(O)/musl/obj/%.o: %.c $(O)/gen/auto.c
	@mkdir -p $(dir $@)
	$(STATICCC) $(wordlist 2,1000,$(CC)) $(CFLAGS_ALL) -c -o $@ $<

$(O)/musl/obj/gen/auto.o: $(O)/gen/auto.c
	@mkdir -p $(dir $@)
	$(STATICCC) $(wordlist 2,1000,$(CC)) $(CFLAGS_ALL) -c -o $@ $<

# the compiled-in home is remembered so that a new QMAILHOME rebuilds auto.c
$(O)/gen/home: FORCE
	@mkdir -p $(dir $@)
	@echo '$(QMAILHOME)' | cmp -s - $@ || echo '$(QMAILHOME)' > $@

$(O)/gen/auto.c: $(O)/gen/home conf-users conf-groups conf-split conf-spawn conf-patrn conf-break scripts/auto.sh
	sh scripts/auto.sh '$(QMAILHOME)' > $@.tmp && mv $@.tmp $@

$(O)/lib.a: $(call obj,$(LIBSRC))
	rm -f $@ && ar rcs $@ $^

$(O)/mail.a: $(call obj,$(MAILSRC)) $(O)/obj/gen/auto.o
	rm -f $@ && ar rcs $@ $^

$(O)/musl/lib.a: $(call mobj,$(LIBSRC))
	rm -f $@ && ar rcs $@ $^

$(O)/musl/mail.a: $(call mobj,$(MAILSRC)) $(O)/musl/obj/gen/auto.o
	rm -f $@ && ar rcs $@ $^

define stage_rule
$(O)/$(1).a: $(call obj,$(call stagesrc,$(1)))
	rm -f $$@ && ar rcs $$@ $$^

$(O)/musl/$(1).a: $(call mobj,$(call stagesrc,$(1)))
	rm -f $$@ && ar rcs $$@ $$^
endef
$(foreach s,$(STAGES),$(if $(call stagesrc,$(s)),$(eval $(call stage_rule,$(s)))))

define part_rule
$(O)/part/$(notdir $(basename $(1))).a: $(call obj,$(call parts,$(1)))
	@mkdir -p $(O)/part
	rm -f $$@ && ar rcs $$@ $$^
endef
$(foreach p,$(PARTPROGS),$(eval $(call part_rule,$(p))))

$(O)/obj/tests/%.o: CFLAGS_ALL += $(addprefix -Isrc/,$(STAGES))

define prog_rule
$(O)/bin/$(notdir $(basename $(1))): $(call obj,$(1) $(call parts,$(1))) $(call stagea,$(1)) $(O)/mail.a $(O)/lib.a $(wildcard $(basename $(1)).libs)
	@mkdir -p $(O)/bin
	$(LD) -o $$@ $$(filter %.o %.a,$$^) $(filter-out $(NOLIBS) --entry=%,$(call libsof,$(1)))
endef
define musl_rule
$(O)/bin/$(notdir $(basename $(1))): $(call mobj,$(1) $(call parts,$(1))) $(patsubst $(O)/%,$(O)/musl/%,$(call stagea,$(1))) $(O)/musl/mail.a $(O)/musl/lib.a $(wildcard $(basename $(1)).libs)
	@mkdir -p $(O)/bin
	$(STATICCC) -g -o $$@ $$(filter %.o %.a,$$^) $(call libsof,$(1))
endef
$(foreach p,$(PROGSRC),$(eval $(call $(if $(call musl,$(p)),musl_rule,prog_rule),$(p))))

define script_rule
$(O)/bin/$(notdir $(basename $(1))): $(1) $(O)/gen/home conf-break conf-split
	@mkdir -p $(O)/bin
	sed -e 's|@QMAILHOME@|$(QMAILHOME)|g' -e 's|@SPLIT@|$(shell head -n 1 conf-split)|g' $(1) > $$@.tmp
	chmod 755 $$@.tmp && mv $$@.tmp $$@
endef
$(foreach p,$(SCRIPTSRC),$(eval $(call script_rule,$(p))))

$(O)/unit: $(call obj,$(UNITSRC)) $(PARTA) $(STAGEA) $(O)/mail.a $(O)/lib.a
	$(LD) -o $@ $^

# fuzz harnesses: tests/fuzz/<target>.c with tests/fuzz/driver.c, into
# $(O)/fuzz/<target>, linked with the part and stage libraries as the unit
# runner is
FUZZSRC := $(filter-out tests/fuzz/driver.c,$(wildcard tests/fuzz/*.c))
define fuzz_rule
$(O)/fuzz/$(notdir $(basename $(1))): $(call obj,$(1) tests/fuzz/driver.c) $(PARTA) $(STAGEA) $(O)/mail.a $(O)/lib.a
	@mkdir -p $(O)/fuzz
	$(LD) -o $$@ $$^
endef
$(foreach p,$(FUZZSRC),$(eval $(call fuzz_rule,$(p))))
fuzzers: $(patsubst tests/fuzz/%.c,$(O)/fuzz/%,$(FUZZSRC))

setup: all
	sh scripts/setup.sh '$(O)' '$(QMAILHOME)'

check:
	sh scripts/check.sh '$(QMAILHOME)' '$(O)'

# The hermetic test home lives under the build directory.
TESTO = $(O)/test
TESTHOME = $(CURDIR)/$(TESTO)/home

unit: $(O)/unit
	$(O)/unit

test:
	sh scripts/test-deps.sh
	sh scripts/users.sh
	$(MAKE) O=$(TESTO) QMAILHOME=$(TESTHOME) WERROR=-Werror all
	$(TESTO)/unit
	$(MAKE) O=$(TESTO) QMAILHOME=$(TESTHOME) setup check
	QMAIL_BUILD=$(CURDIR)/$(TESTO) QMAIL_HOME=$(TESTHOME) QMAIL_SRC=$(CURDIR) \
	  /usr/bin/python3 -m pytest -q -p no:cacheprovider tests/system

# make sanitize: make test's build with clang's AddressSanitizer and
# UndefinedBehaviorSanitizer (no recovery: a report kills the program) in its
# own build directory and home. -static is dropped (ASan cannot link it).
# Every process, under any uid, writes its report into $(SANREPORTS)
# (tests/sanitize/options.c); any file there fails the run. Left out: the
# tests that cap a process's address space or heap (ASan reserves terabytes
# of shadow memory; so does the softlimit of services.sh's run scripts) or
# measure its peak memory, the ELF NEEDED check (the
# sanitizer runtimes are linked in), one that counts on speed (1000
# deliveries at once) and the bench smoke (it builds its own suite,
# without the sanitizers).
SANO = build/sanitize
SANHOME = $(CURDIR)/$(SANO)/home
SANREPORTS = $(CURDIR)/$(SANO)/reports
SANFLAGS = -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
SANCC = clang $(wordlist 2,1000,$(CC)) $(SANFLAGS)
SANLD = clang -g $(SANFLAGS) $(CURDIR)/$(SANO)/sanopts.o
SANSKIP = -k 'not test_many_recipients_are_streamed and not test_large_message_is_streamed \
  and not test_matchup_memory_does_not_grow_with_the_log and not test_matchup_memory_follows_messages_in_flight \
  and not test_body_is_streamed_in_bounded_memory and not test_qmtp_answers_of_a_huge_package_fit_in_bounded_memory \
  and not test_concurrencyremote_1000 and not test_long_command_line_bounded and not test_many_recipients_bounded \
  and not test_memory_of_qmail_smtpd_with_tls and not test_only_the_helper_checkpassword_and_dkim_link_more_than_libc \
  and not test_long_header_line_bounded and not test_bench_smoke_measures_every_figure_on_both_sides \
  and not test_the_pop3_services_of_services_sh'

sanitize:
	sh scripts/test-deps.sh
	sh scripts/users.sh
	@mkdir -p $(SANO)
	$(SANCC) -DSAN_LOGDIR='"$(SANREPORTS)"' -c -o $(SANO)/sanopts.o.tmp tests/sanitize/options.c
	cmp -s $(SANO)/sanopts.o.tmp $(SANO)/sanopts.o || \
	  { mv $(SANO)/sanopts.o.tmp $(SANO)/sanopts.o && rm -rf $(SANO)/bin $(SANO)/unit; }
	rm -rf $(SANREPORTS) && mkdir -p $(SANREPORTS) && chmod 1777 $(SANREPORTS)
	$(SANLD) -o $(SANO)/canary tests/sanitize/canary.c
	sh tests/sanitize/canary.sh $(SANO)/canary $(SANREPORTS)
	$(MAKE) O=$(SANO) QMAILHOME=$(SANHOME) CC='$(SANCC)' LD='$(SANLD)' NOLIBS=-static WERROR=-Werror \
	  all fuzzers
	$(SANO)/unit
	$(MAKE) O=$(SANO) QMAILHOME=$(SANHOME) setup check
	QMAIL_BUILD=$(CURDIR)/$(SANO) QMAIL_HOME=$(SANHOME) QMAIL_SRC=$(CURDIR) \
	  /usr/bin/python3 -m pytest -q -p no:cacheprovider $(SANSKIP) tests/system
	sh tests/fuzz/fuzz.sh replay $(SANO)
	sh tests/sanitize/reports.sh $(SANREPORTS)

# make fuzz: every tests/fuzz target under afl-fuzz for FUZZTIME seconds,
# built with afl-clang-fast, ASan and UBSan into build/fuzz
FUZZO = build/fuzz
FUZZTIME ?= 60
fuzz:
	sh scripts/test-deps.sh
	AFL_USE_ASAN=1 AFL_USE_UBSAN=1 $(MAKE) O=$(FUZZO) QMAILHOME=$(CURDIR)/$(FUZZO)/home \
	  CC='afl-clang-fast $(wordlist 2,1000,$(CC))' LD='afl-clang-fast -g' NOLIBS=-static all fuzzers
	sh tests/fuzz/fuzz.sh run $(FUZZO) $(FUZZTIME)

# the crash test of tests/system/test_faults.py, ten rounds (about 2 minutes)
crashtest:
	$(MAKE) O=$(TESTO) QMAILHOME=$(TESTHOME) WERROR=-Werror all
	$(MAKE) O=$(TESTO) QMAILHOME=$(TESTHOME) setup check
	QMAIL_BUILD=$(CURDIR)/$(TESTO) QMAIL_HOME=$(TESTHOME) QMAIL_SRC=$(CURDIR) FAULTS_ROUNDS=10 \
	  /usr/bin/python3 -m pytest -q -s -p no:cacheprovider tests/system/test_faults.py -k crash

try:
	sh scripts/try.sh start

try-stop:
	sh scripts/try.sh stop

# a Debian package for /var/qmail, built offline with dpkg-deb
deb:
	sh scripts/deb.sh $(O)/deb

# benchmarks against Postfix (not tests); see bench/README.md
bench:
	sh bench/run.sh

clean:
	rm -rf $(O)

FORCE:
.PHONY: all setup check test sanitize fuzz fuzzers unit crashtest try try-stop deb bench clean FORCE

-include $(shell find $(O)/obj $(O)/musl/obj -name '*.d' 2>/dev/null)
