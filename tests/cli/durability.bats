#!/usr/bin/env bats
# Durability from the outside: real processes killed with SIGKILL, locks held by other processes.
load helper

@test "SIGKILL at random moments: acknowledged transactions are all there, none is half there" {
	run bash "$BATS_TEST_DIRNAME/lib/kill-loop.sh" "${VZ_KILL_CYCLES:-80}"
	echo "$output"
	assert_success
	assert_output --partial "none partial"
	run "$VZ" verify k
	assert_success
}

@test "a writer holding the lock makes another writer fail with 75, naming the holder" {
	"$VZ" create c --dim 2 -q
	flock -o "$VZ_DATA_DIR/dynamic/c/LOCK" sleep 10 &
	holder=$!
	# until the holder has it (a fixed sleep lost the race on a loaded machine)
	for i in $(seq 1 200); do flock -n -s "$VZ_DATA_DIR/dynamic/c/LOCK" true || break; sleep 0.05; done
	run bash -c "echo '{\"id\":\"a\",\"vector\":[1,2]}' | VZ_LOCK_TIMEOUT=300 '$VZ' insert c -"
	assert_equal "$status" 75
	assert_output --partial "locked by process"
	assert_output --partial "retry"
	run "$VZ" --lock-timeout 200 get c a
	assert_equal "$status" 75
	kill $holder; wait $holder 2>/dev/null || true
	run bash -c "echo '{\"id\":\"a\",\"vector\":[1,2]}' | '$VZ' insert c -"
	assert_success
}

@test "readers share the lock; a reader holding it blocks writers only" {
	"$VZ" create c --dim 2 -q
	echo '{"id":"a","vector":[1,2]}' | "$VZ" insert c - -q
	flock -o -s "$VZ_DATA_DIR/dynamic/c/LOCK" sleep 10 &
	holder=$!
	for i in $(seq 1 200); do flock -n -x "$VZ_DATA_DIR/dynamic/c/LOCK" true || break; sleep 0.05; done
	run "$VZ" --lock-timeout 200 get c a
	assert_success
	run bash -c "echo '{\"id\":\"b\",\"vector\":[1,2]}' | '$VZ' --lock-timeout 200 insert c -"
	assert_equal "$status" 75
	kill $holder; wait $holder 2>/dev/null || true
}

@test "crash at every I/O call of vz insert through the CLI leaves before or after" {
	"$VZ" create c --dim 3 -q
	printf '{"id":"x%d","vector":[1,%d,3]}\n' 1 1 2 2 3 3 > "$BATS_TEST_TMPDIR/in.jsonl"
	cp -a "$VZ_DATA_DIR" "$BATS_TEST_TMPDIR/template"
	n=1
	while :; do
		rm -rf "$VZ_DATA_DIR"; cp -a "$BATS_TEST_TMPDIR/template" "$VZ_DATA_DIR"
		VZ_FAULT="$n:crash" "$VZ" insert c "$BATS_TEST_TMPDIR/in.jsonl" -q && break
		[ $? -eq 137 ] || fail "insert under VZ_FAULT=$n:crash exited $?"
		count=$("$VZ" list --json | python3 -c 'import json,sys; print(json.loads(sys.stdin.readline())["vectors"])')
		[ "$count" = 0 ] || [ "$count" = 3 ] || fail "after a crash at call $n: $count vectors"
		run "$VZ" verify c
		assert_success
		n=$((n + 1))
	done
	[ "$n" -gt 2 ]
}

@test "power cut at every I/O call of vz insert, apply and checkpoint through the CLI: before or after, then verify clean" {
	"$VZ" create c --dim 3 -q
	jsonl 4 3 1 a | "$VZ" insert c - -q
	"$VZ" checkpoint c -q
	jsonl 3 3 2 w | "$VZ" insert c - -q
	jsonl 5 3 3 x > "$BATS_TEST_TMPDIR/in.jsonl"
	printf '%s\n' '{"op":"delete","id":"a1"}' '{"op":"upsert","id":"w0","vector":[1,2,3]}' > "$BATS_TEST_TMPDIR/ops.jsonl"
	cp -a "$VZ_DATA_DIR" "$BATS_TEST_TMPDIR/template"
	for cmd in "insert c $BATS_TEST_TMPDIR/in.jsonl" "apply c $BATS_TEST_TMPDIR/ops.jsonl" "checkpoint c"; do
		rm -rf "$VZ_DATA_DIR"; cp -a "$BATS_TEST_TMPDIR/template" "$VZ_DATA_DIR"
		before=$("$VZ" dump c | sha256sum)
		"$VZ" $cmd -q
		after=$("$VZ" dump c | sha256sum)
		for kind in powercut garble; do
			n=1
			while :; do
				rm -rf "$VZ_DATA_DIR"; cp -a "$BATS_TEST_TMPDIR/template" "$VZ_DATA_DIR"
				VZ_FAULT="$n:$kind" "$VZ" $cmd -q && break
				[ $? -eq 137 ] || fail "$cmd under VZ_FAULT=$n:$kind exited $?"
				now=$("$VZ" dump c | sha256sum)
				[ "$now" = "$before" ] || [ "$now" = "$after" ] || fail "$cmd after VZ_FAULT=$n:$kind: neither before nor after"
				# the next writer cuts what the cut append left; then verify is clean, nothing changed
				"$VZ" checkpoint c -q
				run "$VZ" verify c
				assert_success
				[ "$("$VZ" dump c | sha256sum)" = "$now" ] || fail "$cmd after VZ_FAULT=$n:$kind: the next checkpoint changed the rows"
				n=$((n + 1))
			done
			[ "$n" -gt 3 ]
		done
	done
}

@test "an I/O error at every call of vz insert: exit 74, collection unchanged" {
	"$VZ" create c --dim 3 -q
	printf '{"id":"x%d","vector":[1,%d,3]}\n' 1 1 2 2 > "$BATS_TEST_TMPDIR/in.jsonl"
	before=$(snapshot)
	for kind in EIO ENOSPC; do
		n=1
		while :; do
			run env VZ_FAULT="$n:$kind" "$VZ" insert c "$BATS_TEST_TMPDIR/in.jsonl"
			[ "$status" -eq 0 ] && break
			assert_equal "$status" 74
			[ "$(snapshot)" = "$before" ] || fail "VZ_FAULT=$n:$kind changed the files"
			n=$((n + 1))
		done
		"$VZ" delete c x1 x2 -q && "$VZ" checkpoint c -q
		before=$(snapshot)
	done
}
