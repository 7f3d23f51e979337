# vz: plain GNU make. `make` builds ./vz; `make check` runs every test suite; see README.md.
# Objects go to $(BUILD); the sanitizer build uses BUILD=build-asan SAN=1 (make check-asan).

PREFIX ?= /usr/local
DESTDIR ?=
BINDIR ?= $(PREFIX)/bin
LIBDIR ?= $(PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include
MANDIR ?= $(PREFIX)/share/man
PCDIR ?= $(LIBDIR)/pkgconfig
BUILD ?= build
SAN ?=
CC ?= cc

PKGS := yaml-0.1 libzstd libxxhash jansson zlib libarchive
CFLAGS_BASE := -std=gnu11 -g -Wall -Wextra -Wshadow -Wno-missing-field-initializers -Wno-format-truncation -D_GNU_SOURCE -pthread -fno-strict-aliasing
OPT ?= -O2
ifeq ($(SAN),1)
  CFLAGS_BASE += -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
  LDFLAGS += -fsanitize=address,undefined
  OPT := -O1
endif
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
# Start-up time is part of every one-shot command: the small libraries are linked statically
# (Debian's -dev packages ship the .a files) and libarchive is opened with dlopen by
# lib/backup_libarchive.c only when a backup is read or written; linked, it costs each process
# about 9 ms of loading. libzstd likewise by lib/zstd_load.c, when a .zst input or a backup is
# read or written (its .a is built without the threads that backup --threads uses; linked, the
# .so cost each process about 0.1 ms). A static(-pie) vz was 0.4 ms faster still to start, but
# it would lose those threads and dlopen a second C library with libarchive.
LIBS = -Wl,-Bstatic -lyaml -lxxhash -ljansson -lz -Wl,-Bdynamic -ldl -lm -pthread
ALL_CFLAGS = $(CFLAGS_BASE) $(OPT) $(PKG_CFLAGS) $(CFLAGS)

LIB_SRCS := $(sort $(wildcard lib/*.c))
CMD_SRCS := $(sort $(wildcard cmd/*.c))
CLI_SRCS := $(sort $(wildcard cli/*.c))
LIB_OBJS := $(LIB_SRCS:%.c=$(BUILD)/%.o)
CMD_OBJS := $(CMD_SRCS:%.c=$(BUILD)/%.o)
CLI_OBJS := $(CLI_SRCS:%.c=$(BUILD)/%.o)
UNIT_SRCS := $(sort $(wildcard tests/unit/*.c))
UNIT_OBJS := $(UNIT_SRCS:%.c=$(BUILD)/%.o)
FUZZ_SRCS := $(sort $(wildcard tests/fuzz/fuzz_*.c))

ifeq ($(BUILD),build)
  VZ_BIN := vz
else
  VZ_BIN := $(BUILD)/vz
endif

.PHONY: demo all lib deps check check-run check-asan check-unit check-cli valgrind bench fuzz install uninstall clean lint-man
all: $(VZ_BIN)

# Plain `make` and `make install` only check the build dependencies, once (stamp), and name the
# apt-get line that installs what is missing: a packager building without root never meets
# apt-get. `make deps`, `make demo`, `make check` and `make bench` install what they need, so
# that the README's two commands set up a fresh Debian machine.
$(BUILD)/.deps-ok: scripts/install-deps.sh
	@mkdir -p $(BUILD)
	@sh scripts/install-deps.sh --check build
	@touch $@
deps:
	@sh scripts/install-deps.sh build test

# The command table: every cmd/*.c that defines `const struct vz_command vz_cmd_NAME`.
$(BUILD)/commands.h: $(CMD_SRCS) | $(BUILD)/.deps-ok
	@mkdir -p $(BUILD)
	@sed -n 's/^const struct vz_command vz_cmd_\([a-z_]*\) = .*/VZ_CMD(\1)/p' $(CMD_SRCS) | sort > $@.tmp
	@cmp -s $@.tmp $@ 2>/dev/null && rm -f $@.tmp || mv $@.tmp $@

$(BUILD)/%.o: %.c | $(BUILD)/.deps-ok
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -MMD -MP -c $< -o $@

$(BUILD)/cli/table.o: $(BUILD)/commands.h
$(BUILD)/cli/table.o: ALL_CFLAGS += -I$(BUILD)
# cmd/ holds one file a command; the frame they share (main, the command table, options, output,
# batch reading) is in cli/, whose headers the commands include by name.
$(CMD_OBJS): ALL_CFLAGS += -Icli

$(BUILD)/libvz.a: $(LIB_OBJS)
	@rm -f $@
	ar rcs $@ $^

# The shared library: the same sources built again with -fPIC (the objects above are the
# compiler's default PIE, which a shared object cannot hold; the binary keeps them). Linked
# with the shared builds of its dependencies: Debian's .a files are not position-independent.
# The soname carries the ABI version (SOVERSION), bumped when a change breaks programs built
# against an older vz.h; the file name carries the release (VZ_VERSION of include/vz.h).
VERSION := $(shell sed -n 's/^\#define VZ_VERSION "\(.*\)"/\1/p' include/vz.h)
SOVERSION := 0
PIC_OBJS := $(LIB_SRCS:%.c=$(BUILD)/pic/%.o)
SHLIBS = -lyaml -lxxhash -ljansson -lz -ldl -lm -pthread
$(BUILD)/pic/%.o: %.c | $(BUILD)/.deps-ok
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -fPIC -MMD -MP -c $< -o $@
$(BUILD)/libvz.so.$(VERSION): $(PIC_OBJS) Makefile
	$(CC) $(LDFLAGS) -shared -Wl,-soname,libvz.so.$(SOVERSION) -Wl,--no-undefined -o $@ $(PIC_OBJS) $(SHLIBS)
lib: $(BUILD)/libvz.a $(BUILD)/libvz.so.$(VERSION)

# vz.pc. Libs carries -Wl,-rpath for a libdir the dynamic loader does not search by itself, as
# libtool does: a program built against an install under /usr/local, /opt or $$HOME runs without
# LD_LIBRARY_PATH or ldconfig. pkgconf prefixes PKG_CONFIG_SYSROOT_DIR to the variables, so a
# program built against a DESTDIR staging tree (make check's examples, as in
# PKG_CONFIG_SYSROOT_DIR=DESTDIR pkg-config --libs vz) runs against that tree's libvz.so, not
# against an older one installed on the machine. A static link was the other way (--static
# picking libvz.a), but pkg-config cannot say "libvz.a" only under --static while -lvz takes
# the .so from the same directory, and it would test the archive instead of the shared library.
# /usr/lib and /usr/lib/<triplet> get no rpath (the loader searches them; Debian forbids it).
PC_RPATH = $(if $(filter /usr/lib /usr/lib/%-linux-gnu /lib,$(LIBDIR)),,-Wl,-rpath,$${libdir})
# Written by install itself, so that it always holds the PREFIX/LIBDIR of that install.
PC_LINES = 'prefix=$(PREFIX)' 'libdir=$(LIBDIR)' 'includedir=$(INCLUDEDIR)' '' \
	'Name: vz' 'Description: durable vector collections on the local filesystem (libvz)' 'Version: $(VERSION)' \
	'Requires.private: $(filter-out libarchive libzstd,$(PKGS))' \
	'Cflags: -I$${includedir}' 'Libs: $(strip -L$${libdir} $(PC_RPATH) -lvz)' 'Libs.private: -ldl -lm -pthread'

$(VZ_BIN): $(CMD_OBJS) $(CLI_OBJS) $(BUILD)/libvz.a Makefile
	$(CC) $(LDFLAGS) -o $@ $(CMD_OBJS) $(CLI_OBJS) $(BUILD)/libvz.a $(LIBS)

$(BUILD)/unit-tests: $(UNIT_OBJS) $(BUILD)/libvz.a Makefile
	$(CC) $(LDFLAGS) -o $@ $(UNIT_OBJS) $(BUILD)/libvz.a $(LIBS) -larchive -lzstd # the backup and .zst tests craft hostile archives and streams

# Corpus replay of every fuzz target, built with the normal compiler (no libFuzzer needed).
$(BUILD)/fuzz-replay/%: tests/fuzz/%.c tests/fuzz/replay_main.c $(BUILD)/libvz.a Makefile
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -o $@ $< tests/fuzz/replay_main.c $(BUILD)/libvz.a $(LIBS) -lzstd # fuzz_backup compresses its input
FUZZ_REPLAY := $(FUZZ_SRCS:tests/fuzz/%.c=$(BUILD)/fuzz-replay/%)

check:
	@sh scripts/install-deps.sh build test
	@$(MAKE) --no-print-directory check-run
# The examples suite installs into a scratch DESTDIR (make install) and builds examples/*.c with
# pkg-config against it; EXAMPLE_LDFLAGS carries the sanitizers of check-asan.
check-run: all lib $(BUILD)/unit-tests $(FUZZ_REPLAY)
	@VZ_BIN=$(abspath $(VZ_BIN)) BUILD=$(BUILD) EXAMPLE_LDFLAGS="$(LDFLAGS)" bash tests/run-suites.sh

check-asan:
	@$(MAKE) --no-print-directory BUILD=build-asan SAN=1 check

# Definite leaks only: the crash tests end children with _exit at an I/O call on purpose, which
# leaves their heap "possibly lost" by design.
valgrind: $(BUILD)/unit-tests
	VZ_ROOT=$(CURDIR) valgrind --error-exitcode=1 --leak-check=full --show-leak-kinds=definite --errors-for-leak-kinds=definite -q $(BUILD)/unit-tests

bench:
	@sh scripts/install-deps.sh build test bench
	@$(MAKE) --no-print-directory all
	@bash bench/run.sh

FUZZ_TIME ?= 60
fuzz:
	@bash tests/fuzz/run-fuzz.sh $(FUZZ_TIME)

lint-man:
	mandoc -Tlint -W warning man/*.[0-9]

MAN1 := $(wildcard man/*.1)
MAN3 := $(wildcard man/*.3)
MAN5 := $(wildcard man/*.5)
COMPLETIONS := $(DESTDIR)$(PREFIX)/share/bash-completion/completions/vz $(DESTDIR)$(PREFIX)/share/zsh/vendor-completions/_vz \
	$(DESTDIR)$(PREFIX)/share/fish/vendor_completions.d/vz.fish
install: all lib
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(LIBDIR) $(DESTDIR)$(PCDIR) $(DESTDIR)$(INCLUDEDIR) \
		$(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(MANDIR)/man3 $(DESTDIR)$(MANDIR)/man5
	install -m 755 $(VZ_BIN) $(DESTDIR)$(BINDIR)/vz
	for c in $$(./$(VZ_BIN) __complete ''); do ln -sf vz $(DESTDIR)$(BINDIR)/vz-$$c; done
	install -m 644 $(MAN1) $(DESTDIR)$(MANDIR)/man1/
	install -m 644 $(MAN3) $(DESTDIR)$(MANDIR)/man3/
	install -m 644 $(MAN5) $(DESTDIR)$(MANDIR)/man5/
	install -m 644 include/vz.h $(DESTDIR)$(INCLUDEDIR)/vz.h
	install -m 644 $(BUILD)/libvz.a $(DESTDIR)$(LIBDIR)/libvz.a
	install -m 755 $(BUILD)/libvz.so.$(VERSION) $(DESTDIR)$(LIBDIR)/libvz.so.$(VERSION)
	ln -sf libvz.so.$(VERSION) $(DESTDIR)$(LIBDIR)/libvz.so.$(SOVERSION)
	ln -sf libvz.so.$(SOVERSION) $(DESTDIR)$(LIBDIR)/libvz.so
	printf '%s\n' $(PC_LINES) >$(DESTDIR)$(PCDIR)/vz.pc && chmod 644 $(DESTDIR)$(PCDIR)/vz.pc
	install -d $(dir $(COMPLETIONS))
	install -m 644 completions/vz.bash $(DESTDIR)$(PREFIX)/share/bash-completion/completions/vz
	install -m 644 completions/_vz $(DESTDIR)$(PREFIX)/share/zsh/vendor-completions/_vz
	install -m 644 completions/vz.fish $(DESTDIR)$(PREFIX)/share/fish/vendor_completions.d/vz.fish
	$(if $(DESTDIR),,-ldconfig $(DESTDIR)$(LIBDIR) 2>/dev/null)

# Removes every file install wrote (the vz-* links are those whose target is vz); directories
# are left, as they may hold other programs' files.
uninstall:
	for l in $(DESTDIR)$(BINDIR)/vz-*; do [ ! -L "$$l" ] || [ "$$(readlink "$$l")" != vz ] || rm -f "$$l"; done
	rm -f $(DESTDIR)$(BINDIR)/vz $(DESTDIR)$(INCLUDEDIR)/vz.h $(DESTDIR)$(PCDIR)/vz.pc
	rm -f $(DESTDIR)$(LIBDIR)/libvz.a $(DESTDIR)$(LIBDIR)/libvz.so $(DESTDIR)$(LIBDIR)/libvz.so.$(SOVERSION) \
		$(DESTDIR)$(LIBDIR)/libvz.so.$(VERSION)
	rm -f $(addprefix $(DESTDIR)$(MANDIR)/man1/,$(notdir $(MAN1))) $(addprefix $(DESTDIR)$(MANDIR)/man3/,$(notdir $(MAN3))) \
		$(addprefix $(DESTDIR)$(MANDIR)/man5/,$(notdir $(MAN5)))
	rm -f $(COMPLETIONS)

clean:
	rm -rf build build-asan vz

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)

# The README's first command: set up, build, and run the main job on this repository's own
# workspace (index it, then ask it a question in words).
demo:
	@sh scripts/install-deps.sh build
	@$(MAKE) --no-print-directory all
	@./vz build
	@./vz query vz/docs --text 'how do I restore a backup' -k 5
