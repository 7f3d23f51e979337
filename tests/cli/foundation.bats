#!/usr/bin/env bats
# The vz binary: dispatch, option parsing, help, exit codes, stdout errors, links, completion.
load helper

@test "vz --version prints the version" {
	run "$VZ" --version
	assert_success
	assert_output --regexp '^vz [0-9]+\.[0-9]+\.[0-9]+ \(format [0-9]+, backup format [0-9]+\)$'
}

@test "an unknown command is a usage error with a hint" {
	run "$VZ" verson
	assert_equal "$status" 64
	assert_output --partial "unknown command 'verson'; did you mean 'version'?"
}

@test "an unknown command without a near name still says so" {
	run "$VZ" zzzzzzzzz
	assert_equal "$status" 64
	assert_output --partial "unknown command 'zzzzzzzzz'"
}

@test "an unknown option is a usage error with a hint" {
	run "$VZ" version --jsn
	assert_equal "$status" 64
	assert_output --partial "unknown option '--jsn'; did you mean '--json'?"
}

@test "options must be spelled out: no prefix guessing" {
	run "$VZ" version --js
	assert_equal "$status" 64
}

@test "no command prints help on stderr and exits 64" {
	run --separate-stderr "$VZ"
	assert_equal "$status" 64
	assert_equal "$output" ""
	[[ "$stderr" == *"usage: vz"* ]]
}

@test "vz --help and vz CMD --help and vz help CMD print help on stdout" {
	run "$VZ" --help
	assert_success
	assert_output --partial "commands:"
	run "$VZ" version --help
	assert_success
	assert_output --partial "usage: vz version"
	run "$VZ" version -h
	assert_success
	assert_output --partial "--json"
	run "$VZ" help version
	assert_success
	assert_output --partial "usage: vz version"
	run "$VZ" help nosuch
	assert_equal "$status" 64
}

@test "--opt=value, --opt value and -- are accepted" {
	run "$VZ" --lock-timeout=5 version --json
	assert_success
	assert_output --partial '"version"'
	run "$VZ" --lock-timeout 5 version
	assert_success
	run "$VZ" version -- extra
	assert_equal "$status" 64
	assert_output --partial "unexpected argument 'extra'"
	run "$VZ" version --json=1
	assert_equal "$status" 64
	assert_output --partial "takes no value"
}

@test "clustered short flags" {
	run "$VZ" version -qv
	assert_success
	run "$VZ" version -qx
	assert_equal "$status" 64
	assert_output --partial "unknown option '-x'"
}

@test "bad numbers and missing values are usage errors" {
	run "$VZ" version --lock-timeout abc
	assert_equal "$status" 64
	assert_output --partial "not a whole number"
	run "$VZ" version --lock-timeout
	assert_equal "$status" 64
	assert_output --partial "needs a value"
	VZ_LOCK_TIMEOUT=soon run "$VZ" version
	assert_equal "$status" 64
}

@test "a failed write to stdout is the I/O exit code" {
	run bash -c '"$VZ" --help > /dev/full'
	assert_equal "$status" 74
	assert_output --partial "write error"
	run bash -c '"$VZ" version > /dev/full'
	assert_equal "$status" 74
}

@test "SIGPIPE keeps its default: a closed pipe is quiet" {
	run bash -c 'trap "" PIPE; "$VZ" --help | head -c 1 >/dev/null; echo "${PIPESTATUS[0]}"'
	# the shell ignored SIGPIPE, but vz restores the default: it dies of SIGPIPE (141) quietly
	# or finishes before the pipe closes (0); never an error message
	[[ "$output" == "141" || "$output" == "0" ]]
}

@test "a vz-<command> link behaves like vz <command>" {
	ln -s "$VZ" "$BATS_TEST_TMPDIR/vz-version"
	run "$BATS_TEST_TMPDIR/vz-version" --json
	assert_success
	assert_output --partial '"version"'
}

@test "only vz-<command> with a command of the table is that command; any other name is vz" {
	mkdir "$BATS_TEST_TMPDIR/bin"
	"$VZ" create coll --dim 2
	for name in vz-bench vz-ver vz- vz-__complete vz-VERSION myvz; do
		ln -s "$VZ" "$BATS_TEST_TMPDIR/bin/$name"
		# vz's own global options and commands, not a command named after the link
		run "$BATS_TEST_TMPDIR/bin/$name" --version
		assert_success
		assert_output --regexp '^vz [0-9]'
		run "$BATS_TEST_TMPDIR/bin/$name" version --json
		assert_success
		assert_output --partial '"version"'
		run "$BATS_TEST_TMPDIR/bin/$name" list
		assert_success
		assert_output --partial coll
		run -64 "$BATS_TEST_TMPDIR/bin/$name"
		assert_output --partial 'usage: vz [--data-dir DIR]'
		run -64 "$BATS_TEST_TMPDIR/bin/$name" bench
		assert_output --partial "unknown command 'bench'"
	done
	# a real command still is one: vz-list takes no command word
	ln -s "$VZ" "$BATS_TEST_TMPDIR/bin/vz-list"
	run "$BATS_TEST_TMPDIR/bin/vz-list" --json
	assert_success
	assert_output --partial '"coll"'
	run -64 "$BATS_TEST_TMPDIR/bin/vz-list" --no-such-option
}

@test "__complete lists commands and each command's options" {
	run "$VZ" __complete ''
	assert_success
	assert_line version
	assert_line help
	run "$VZ" __complete vers
	assert_output version
	run "$VZ" __complete version --
	assert_line --json
	assert_line --help
	assert_line --data-dir
	run "$VZ" __complete --data-dir ''
	assert_output __dirs__
}
