# Plain make. Every program is src/<stage>/<program>.c (the file with main)
# plus any src/<stage>/<program>-<part>.c that is not itself a program;
# shell programs are src/<stage>/<program>.sh. Extra link flags for one
# program go in src/<stage>/<program>.libs: a system library beyond libc
# (-lcrypt), or -static for a program run once per message that never looks
# up users or hosts through NSS (exec is about a fifth cheaper).
# Generated files go to $(O).
#
#   make                 build everything into $(O) (default build/)
#   make setup check     install into conf-home (or QMAILHOME=...) and check it
#   make test            install test dependencies, build a hermetic home, run
#                        the unit and system tests
#   make try             start a self-contained MTA on 127.0.0.1
#   make deb             a Debian package for /var/qmail (scripts/deb.sh)
#   make bench           benchmarks against Postfix (bench/README.md)

O ?= build
QMAILHOME ?= $(shell head -n 1 conf-home)
CC := $(shell head -n 1 conf-cc)
LD := $(shell head -n 1 conf-ld)
WERROR ?=
CFLAGS_ALL = $(WERROR) -MMD -MP -Isrc/lib -Isrc/mail -I$(O)/gen

PROGSRC := $(shell grep -l '^int main\>' src/*/*.c 2>/dev/null | grep -v -e '^src/lib/' -e '^src/mail/')
SCRIPTSRC := $(wildcard src/*/*.sh)
PROGS := $(notdir $(basename $(PROGSRC) $(SCRIPTSRC)))
LIBSRC := $(wildcard src/lib/*.c)
MAILSRC := $(wildcard src/mail/*.c)
UNITSRC := $(wildcard tests/unit/*.c)

obj = $(patsubst %.c,$(O)/obj/%.o,$(1))
parts = $(filter-out $(PROGSRC),$(wildcard $(basename $(1))-*.c))

all: $(addprefix $(O)/bin/,$(PROGS)) $(O)/unit

$(O)/obj/%.o: %.c $(O)/gen/auto.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -c -o $@ $<

$(O)/obj/gen/auto.o: $(O)/gen/auto.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -c -o $@ $<

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

define prog_rule
$(O)/bin/$(notdir $(basename $(1))): $(call obj,$(1) $(call parts,$(1))) $(O)/mail.a $(O)/lib.a $(wildcard $(basename $(1)).libs)
	@mkdir -p $(O)/bin
	$(LD) -o $$@ $$(filter %.o %.a,$$^) $(shell cat $(basename $(1)).libs 2>/dev/null)
endef
$(foreach p,$(PROGSRC),$(eval $(call prog_rule,$(p))))

define script_rule
$(O)/bin/$(notdir $(basename $(1))): $(1) $(O)/gen/home conf-break conf-split
	@mkdir -p $(O)/bin
	sed -e 's|@QMAILHOME@|$(QMAILHOME)|g' -e 's|@SPLIT@|$(shell head -n 1 conf-split)|g' $(1) > $$@.tmp
	chmod 755 $$@.tmp && mv $$@.tmp $$@
endef
$(foreach p,$(SCRIPTSRC),$(eval $(call script_rule,$(p))))

$(O)/unit: $(call obj,$(UNITSRC)) $(O)/mail.a $(O)/lib.a
	$(LD) -o $@ $^

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
.PHONY: all setup check test unit try try-stop deb bench clean FORCE

-include $(shell find $(O)/obj -name '*.d' 2>/dev/null)
