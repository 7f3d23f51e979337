#!/usr/bin/env bats
# Documentation: a man page for every command the binary has, each lint clean and naming every
# option of the command's --help; `vz help`; `make install` of pages, links and completions.
load helper

commands() { "$VZ" __complete ''; }

# The long options of `vz CMD --help`, without the common ones (documented once, in vz(1)).
own_options() {
	"$VZ" "$1" --help | sed -n '/^options:/,/^common options:/p' |
		sed -nE 's/^ +(-[a-zA-Z0-9], )?--([a-z0-9-]+).*/\2/p'
}

@test "every command has a man page" {
	local c missing=""
	for c in $(commands); do
		[ -f "$ROOT/man/vz-$c.1" ] || missing="$missing vz-$c.1"
	done
	[ -z "$missing" ] || fail "missing:$missing"
	[ -f "$ROOT/man/vz.1" ]
}

@test "vz-format(5) exists" {
	assert_file_exist "$ROOT/man/vz-format.5"
}

@test "vz-workspace(5) exists" {
	assert_file_exist "$ROOT/man/vz-workspace.5"
}

@test "every page is clean under mandoc -Tlint -W warning" {
	command -v mandoc >/dev/null || fail "mandoc is not installed (scripts/install-deps.sh lists it)"
	run mandoc -Tlint -W warning "$ROOT"/man/*.[0-9]
	assert_success
	assert_output ""
}

@test "every option of vz CMD --help is documented in vz-CMD(1)" {
	local c o missing="" checked=0
	for c in $(commands); do
		[ -f "$ROOT/man/vz-$c.1" ] || continue # reported by the test above
		for o in $(own_options "$c"); do
			checked=$((checked + 1))
			# in mdoc, `Fl \-dim` is --dim
			sed 's/\\-/-/g' "$ROOT/man/vz-$c.1" | grep -qE -- "Fl -$o( |$)" || missing="$missing $c:--$o"
		done
	done
	[ -z "$missing" ] || fail "undocumented:$missing"
	[ "$checked" -gt 0 ]
}

@test "the common options are documented in vz(1)" {
	local o missing=""
	for o in $("$VZ" version --help | sed -n '/^common options:/,$p' | sed -nE 's/^ +(-[a-zA-Z0-9], )?--([a-z0-9-]+).*/\2/p'); do
		sed 's/\\-/-/g' "$ROOT/man/vz.1" | grep -qE -- "Fl -$o( |$)" || missing="$missing --$o"
	done
	[ -z "$missing" ] || fail "undocumented in vz.1:$missing"
}

@test "vz(1) lists every command and the exit status table" {
	local c missing=""
	for c in $(commands); do
		grep -qxF ".It Xr vz-$c 1 Ta" <(sed -E 's/(Ta).*/\1/' "$ROOT/man/vz.1") || missing="$missing $c"
	done
	[ -z "$missing" ] || fail "not in the COMMANDS table of vz.1:$missing"
	for s in 0 1 64 65 66 70 71 73 74 75 77 78; do
		grep -qx ".It $s" "$ROOT/man/vz.1" || fail "exit status $s not in vz.1"
	done
	for e in VZ_DATA_DIR VZ_LOCK_TIMEOUT XDG_DATA_HOME VZ_SIMD VZ_FAULT VZ_IO_TRACE; do
		grep -qx ".It Ev $e" "$ROOT/man/vz.1" || fail "$e not in ENVIRONMENT of vz.1"
	done
}

@test "vz help CMD prints the built-in help when stdout is not a terminal" {
	run "$VZ" help create
	assert_success
	assert_line --index 0 "usage: vz create NAME --dim N [options]"
	assert_output "$("$VZ" create --help)"
	run "$VZ" help
	assert_success
	assert_output "$("$VZ" --help)"
}

@test "vz help with an unknown command is a usage error with a suggestion" {
	run "$VZ" help qurey
	assert_failure 64
	assert_output --partial "did you mean 'query'"
}

# A fake man(1) first in PATH records what it was asked for; `script` gives vz a terminal.
fake_man() {
	mkdir -p "$BATS_TEST_TMPDIR/bin"
	printf '#!/bin/sh\necho "MAN PAGE $*"\nexit %s\n' "$1" >"$BATS_TEST_TMPDIR/bin/man"
	chmod +x "$BATS_TEST_TMPDIR/bin/man"
}
on_tty() { PATH="$BATS_TEST_TMPDIR/bin:$PATH" script -qec "$*" /dev/null </dev/null | tr -d '\r'; }

@test "vz help CMD on a terminal shows the man page, else falls back to the built-in help" {
	command -v script >/dev/null || fail "script(1) (util-linux) is needed"
	fake_man 0
	run on_tty "$VZ" help query
	assert_output "MAN PAGE vz-query"
	run on_tty VZ_NO_MAN=1 "$VZ" help query
	assert_line --index 0 "usage: vz query COLL (--vector JSON | --batch FILE | --text TEXT) [-k N]"
	assert_line --index 1 "                [options]" # help is wrapped at 80 columns
	fake_man 16 # man: no such page
	run on_tty "$VZ" help query
	assert_line --index 0 "MAN PAGE vz-query"
	assert_line --index 1 "usage: vz query COLL (--vector JSON | --batch FILE | --text TEXT) [-k N]"
}

@test "every man page renders, and names the command it documents" {
	local p name
	for p in "$ROOT"/man/vz-*.1; do
		name=$(basename "$p" .1)
		run bash -c 'mandoc -Tascii "$1" | sed "s/.\x08//g"' _ "$p"
		assert_success
		grep -q "^NAME" <<<"$output" || fail "$name: no NAME section"
		grep -q "$name" <<<"$output" || fail "$name: page does not name itself"
	done
}

@test "make install puts the binary, vz-COMMAND links, pages and completions under DESTDIR" {
	local inst=$BATS_TEST_TMPDIR/inst c p
	# a make of its own: not the BUILD/SAN of a `make check-asan` that runs this test
	run env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -C "$ROOT" --no-print-directory install DESTDIR="$inst" PREFIX=/usr
	assert_success
	assert_file_executable "$inst/usr/bin/vz"
	for c in $(commands); do
		assert_link_exist "$inst/usr/bin/vz-$c"
	done
	for p in "$ROOT"/man/*.1; do assert_file_exist "$inst/usr/share/man/man1/$(basename "$p")"; done
	for p in "$ROOT"/man/*.5; do assert_file_exist "$inst/usr/share/man/man5/$(basename "$p")"; done
	for p in "$ROOT"/man/*.3; do assert_file_exist "$inst/usr/share/man/man3/$(basename "$p")"; done
	assert_file_exist "$inst/usr/include/vz.h"
	assert_file_exist "$inst/usr/lib/libvz.a"
	assert_file_exist "$inst/usr/lib/pkgconfig/vz.pc"
	assert_link_exist "$inst/usr/lib/libvz.so"
	run objdump -p "$inst/usr/lib/libvz.so"
	assert_success
	assert_output --partial "SONAME               libvz.so.0"
	# /usr/lib is searched by the loader: no rpath in vz.pc there
	run grep -c rpath "$inst/usr/lib/pkgconfig/vz.pc"
	assert_output 0
	assert_file_exist "$inst/usr/share/bash-completion/completions/vz"
	assert_file_exist "$inst/usr/share/zsh/vendor-completions/_vz"
	assert_file_exist "$inst/usr/share/fish/vendor_completions.d/vz.fish"
	# a vz-COMMAND link behaves like vz COMMAND
	run "$inst/usr/bin/vz-version" --json
	assert_success
	assert_output "$("$VZ" version --json)"
	# and the installed pages are found by man
	if command -v man >/dev/null; then
		run env MANPATH="$inst/usr/share/man" man -w vz-format
		assert_success
		assert_output "$inst/usr/share/man/man5/vz-format.5"
	fi
	# make uninstall removes every file and link that install wrote
	run env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -C "$ROOT" --no-print-directory uninstall DESTDIR="$inst" PREFIX=/usr
	assert_success
	run find "$inst" -type f -o -type l
	assert_output ""
}
