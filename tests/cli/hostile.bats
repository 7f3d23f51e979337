#!/usr/bin/env bats
# Hostile environments: names that try to be paths, symlinks planted at lock and data paths, a
# data directory others can write. Each gets a clear error and nothing outside the data
# directory is touched.
load helper

@test "collection names that try paths are usage errors and create nothing" {
	for name in '../x' '/etc/x' 'a/b/c' '.hidden' '..' '.' "$(printf 'a\nb')" 'a b' 'x/../y'; do
		run "$VZ" create --dim 4 -- "$name"
		assert_equal "$status" 64
		run "$VZ" get -- "$name" id
		[ "$status" -eq 64 ] || [ "$status" -eq 66 ]
	done
	[ ! -e "$BATS_TEST_TMPDIR/x" ] && [ ! -e /etc/x ]
	# nothing was made: not even the data directory
	[ ! -e "$VZ_DATA_DIR" ]
}

@test "a symlinked collection directory is refused" {
	mkdir -p "$BATS_TEST_TMPDIR/outside"
	"$VZ" create real --dim 2 -q
	mv "$VZ_DATA_DIR/dynamic/real" "$BATS_TEST_TMPDIR/outside/real"
	ln -s "$BATS_TEST_TMPDIR/outside/real" "$VZ_DATA_DIR/dynamic/real"
	before=$(cd "$BATS_TEST_TMPDIR/outside" && find . -type f -exec sha256sum {} + | sort)
	run bash -c "echo '{\"id\":\"a\",\"vector\":[1,2]}' | '$VZ' insert real -"
	assert_equal "$status" 77
	assert_output --partial "is a symlink"
	[ "$before" = "$(cd "$BATS_TEST_TMPDIR/outside" && find . -type f -exec sha256sum {} + | sort)" ]
}

@test "a symlink planted as LOCK or metadata.json is refused" {
	"$VZ" create c --dim 2 -q
	rm "$VZ_DATA_DIR/dynamic/c/LOCK"
	ln -s /etc/passwd "$VZ_DATA_DIR/dynamic/c/LOCK"
	run "$VZ" info c
	assert_equal "$status" 77
	assert_output --partial "symlink"
	rm "$VZ_DATA_DIR/dynamic/c/LOCK" && touch "$VZ_DATA_DIR/dynamic/c/LOCK"
	mv "$VZ_DATA_DIR/dynamic/c/metadata.json" "$BATS_TEST_TMPDIR/meta"
	ln -s "$BATS_TEST_TMPDIR/meta" "$VZ_DATA_DIR/dynamic/c/metadata.json"
	run "$VZ" info c
	assert_equal "$status" 77
	assert_output --partial "metadata.json"
}

@test "a symlinked dynamic/ folder is never created through" {
	mkdir -p "$BATS_TEST_TMPDIR/elsewhere" "$VZ_DATA_DIR"
	ln -s "$BATS_TEST_TMPDIR/elsewhere" "$VZ_DATA_DIR/dynamic"
	run "$VZ" create c --dim 2
	assert_equal "$status" 77
	assert_output --partial "symlink"
	run ls -A "$BATS_TEST_TMPDIR/elsewhere"
	assert_output ""
}

@test "a data directory writable by others is refused" {
	mkdir -p "$VZ_DATA_DIR" && chmod 777 "$VZ_DATA_DIR"
	run "$VZ" create c --dim 2
	assert_equal "$status" 77
	assert_output --partial "writable by others"
	chmod 755 "$VZ_DATA_DIR"
	run "$VZ" create c --dim 2
	assert_success
}

@test "files are created with the umask respected" {
	(umask 077 && "$VZ" create c --dim 2 -q && echo '{"id":"a","vector":[1,2]}' | "$VZ" insert c - -q && "$VZ" checkpoint c -q)
	run find "$VZ_DATA_DIR/dynamic/c" -type f -perm /077
	assert_output ""
}

@test "a JSON line of a gigabyte on a pipe is refused after 64 MiB, naming the line, with nothing written" {
	"$VZ" create c --dim 4 -q
	echo '{"id":"a","vector":[1,2,3,4]}' | "$VZ" insert c - -q
	before=$(snapshot)
	run bash -c '{ echo "{\"id\":\"b\",\"vector\":[1,2,3,4]}"; printf "{\"id\":\"x\",\"payload\":\""; head -c 1073741824 /dev/zero | tr "\0" a; printf "\"}\n"; } |
		/usr/bin/time -f "rss_kb=%M" "$VZ" insert c -'
	assert_equal "$status" 65
	assert_output --partial "stdin: line 2: longer than 67108864 bytes"
	rss=$(sed -n 's/.*rss_kb=\([0-9]*\).*/\1/p' <<< "$output")
	[ "$rss" -lt 400000 ]
	assert_equal "$(snapshot)" "$before"
}

@test "an .npy header that lies about its shape is refused before anything is read past it" {
	"$VZ" create c --dim 3 -q
	before=$(snapshot)
	python3 - "$BATS_TEST_TMPDIR/lie.npy" <<'PY'
import sys
hdr = "{'descr': '<f4', 'fortran_order': False, 'shape': (1000000000, 3), }"
hdr += " " * (118 - len(hdr)) + "\n"
open(sys.argv[1], "wb").write(b"\x93NUMPY\x01\x00" + len(hdr).to_bytes(2, "little") + hdr.encode() + b"\0" * 36)
PY
	run "$VZ" insert c "$BATS_TEST_TMPDIR/lie.npy"
	assert_equal "$status" 65
	assert_output --partial "1000000000 x 3"
	assert_equal "$(snapshot)" "$before"
}
