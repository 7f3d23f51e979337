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
