# vz: plain GNU make. `make` builds ./vz; `make check` runs every test suite; see README.md.
# Objects go to $(BUILD); the sanitizer build uses BUILD=build-asan SAN=1 (make check-asan).

PREFIX ?= /usr/local
DESTDIR ?=
BUILD ?= build
SAN ?=
CC ?= cc

PKGS := yaml-0.1 libzstd libxxhash jansson libarchive
CFLAGS_BASE := -std=gnu11 -g -Wall -Wextra -Wshadow -Wno-missing-field-initializers -Wno-format-truncation -D_GNU_SOURCE -pthread -fno-strict-aliasing
OPT ?= -O2
ifeq ($(SAN),1)
  CFLAGS_BASE += -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
  LDFLAGS += -fsanitize=address,undefined
  OPT := -O1
endif
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
# Start-up time is part of every one-shot command: the small libraries are linked statically
# (Debian's -dev packages ship the .a files; not libzstd, whose .a is built without the threads
# that backup --threads uses) and libarchive is opened with dlopen by lib/backup.c
# only when a backup is read or written; linked, it costs each process about 9 ms of loading.
LIBS = -Wl,-Bstatic -lyaml -lxxhash -ljansson -Wl,-Bdynamic -lzstd -ldl -lm -pthread
ALL_CFLAGS = $(CFLAGS_BASE) $(OPT) $(PKG_CFLAGS) $(CFLAGS)

LIB_SRCS := $(sort $(wildcard lib/*.c))
CMD_SRCS := $(sort $(wildcard cmd/*.c))
LIB_OBJS := $(LIB_SRCS:%.c=$(BUILD)/%.o)
CMD_OBJS := $(CMD_SRCS:%.c=$(BUILD)/%.o)
UNIT_SRCS := $(sort $(wildcard tests/unit/*.c))
UNIT_OBJS := $(UNIT_SRCS:%.c=$(BUILD)/%.o)
FUZZ_SRCS := $(sort $(wildcard tests/fuzz/fuzz_*.c))

ifeq ($(BUILD),build)
  VZ_BIN := vz
else
  VZ_BIN := $(BUILD)/vz
endif

.PHONY: demo all deps check check-asan check-unit check-cli valgrind bench fuzz install uninstall clean lint-man
all: deps $(VZ_BIN)

# Installs missing Debian packages once (stamp), so a fresh machine needs nothing by hand.
deps: $(BUILD)/.deps-ok
$(BUILD)/.deps-ok: scripts/install-deps.sh
	@mkdir -p $(BUILD)
	@sh scripts/install-deps.sh
	@touch $@

# The command table: every cmd/*.c that defines `const struct vz_command vz_cmd_NAME`.
$(BUILD)/commands.h: $(CMD_SRCS) | $(BUILD)/.deps-ok
	@mkdir -p $(BUILD)
	@sed -n 's/^const struct vz_command vz_cmd_\([a-z_]*\) = .*/VZ_CMD(\1)/p' $(CMD_SRCS) | sort > $@.tmp
	@cmp -s $@.tmp $@ 2>/dev/null && rm -f $@.tmp || mv $@.tmp $@

$(BUILD)/%.o: %.c | $(BUILD)/.deps-ok
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -MMD -MP -c $< -o $@

$(BUILD)/cmd/vz.o: $(BUILD)/commands.h
$(BUILD)/cmd/vz.o: ALL_CFLAGS += -I$(BUILD)

$(BUILD)/libvz.a: $(LIB_OBJS)
	@rm -f $@
	ar rcs $@ $^

$(VZ_BIN): $(CMD_OBJS) $(BUILD)/libvz.a Makefile
	$(CC) $(LDFLAGS) -o $@ $(CMD_OBJS) $(BUILD)/libvz.a $(LIBS)

$(BUILD)/unit-tests: $(UNIT_OBJS) $(BUILD)/libvz.a Makefile
	$(CC) $(LDFLAGS) -o $@ $(UNIT_OBJS) $(BUILD)/libvz.a $(LIBS) -larchive # the backup tests craft hostile archives

# Corpus replay of every fuzz target, built with the normal compiler (no libFuzzer needed).
$(BUILD)/fuzz-replay/%: tests/fuzz/%.c tests/fuzz/replay_main.c $(BUILD)/libvz.a Makefile
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -o $@ $< tests/fuzz/replay_main.c $(BUILD)/libvz.a $(LIBS)
FUZZ_REPLAY := $(FUZZ_SRCS:tests/fuzz/%.c=$(BUILD)/fuzz-replay/%)

check: all $(BUILD)/unit-tests $(FUZZ_REPLAY)
	@VZ_BIN=$(abspath $(VZ_BIN)) BUILD=$(BUILD) bash tests/run-suites.sh

check-asan:
	@$(MAKE) --no-print-directory BUILD=build-asan SAN=1 check

# Definite leaks only: the crash tests end children with _exit at an I/O call on purpose, which
# leaves their heap "possibly lost" by design.
valgrind: $(BUILD)/unit-tests
	VZ_ROOT=$(CURDIR) valgrind --error-exitcode=1 --leak-check=full --show-leak-kinds=definite --errors-for-leak-kinds=definite -q $(BUILD)/unit-tests

bench: all
	@sh scripts/install-deps.sh --bench
	@bash bench/run.sh

FUZZ_TIME ?= 60
fuzz:
	@bash tests/fuzz/run-fuzz.sh $(FUZZ_TIME)

lint-man:
	mandoc -Tlint -W warning man/*.[0-9]

install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/man/man1 $(DESTDIR)$(PREFIX)/share/man/man5
	install -m 755 vz $(DESTDIR)$(PREFIX)/bin/vz
	for c in $$(./vz __complete ''); do ln -sf vz $(DESTDIR)$(PREFIX)/bin/vz-$$c; done
	install -m 644 man/*.1 $(DESTDIR)$(PREFIX)/share/man/man1/
	-install -m 644 man/*.5 $(DESTDIR)$(PREFIX)/share/man/man5/ 2>/dev/null
	install -d $(DESTDIR)$(PREFIX)/share/bash-completion/completions $(DESTDIR)$(PREFIX)/share/zsh/vendor-completions $(DESTDIR)$(PREFIX)/share/fish/vendor_completions.d
	install -m 644 completions/vz.bash $(DESTDIR)$(PREFIX)/share/bash-completion/completions/vz
	install -m 644 completions/_vz $(DESTDIR)$(PREFIX)/share/zsh/vendor-completions/_vz
	install -m 644 completions/vz.fish $(DESTDIR)$(PREFIX)/share/fish/vendor_completions.d/vz.fish

uninstall:
	rm -f $(DESTDIR)$(PREFIX)/bin/vz $(DESTDIR)$(PREFIX)/bin/vz-*

clean:
	rm -rf build build-asan vz

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)

# The README's first command: set up, build, and run the main job on this repository's own
# workspace (index it, then ask it a question in words).
demo: all
	@./vz build
	@./vz query vz/docs --text 'how do I restore a backup' -k 5
