#!/usr/bin/env bats
# Writes and queries never wait for index work: a checkpoint builds without the collection's
# lock, writers acknowledge after the WAL fsync (large loads: after a segment without a graph is
# committed) and leave the checkpoint to a detached process.
load helper

# Rows of the big WAL: the issue's 100k; a fifth under ASan, whose replay is several times
# slower (the bound of one second is the same).
rows() { if [[ $VZ == *build-asan* ]]; then echo 20000; else echo 100000; fi; }

# the vector of row I of an fvecs file, as JSON
row_json() {
	python3 - "$@" <<'PY'
import struct, sys
path, i = sys.argv[1], int(sys.argv[2])
with open(path, "rb") as f:
    d = struct.unpack("<i", f.read(4))[0]
    f.seek(i * (4 + 4 * d) + 4)
    print("[" + ",".join(repr(x) for x in struct.unpack("<%df" % d, f.read(4 * d))) + "]")
PY
}

ms_since() { echo $(( ($(date +%s%N) - $1) / 1000000 )); }

teardown() {
	# no checkpoint of this test may outlive it (its directory is about to go)
	for c in big e k bl; do [ -d "$VZ_DATA_DIR/dynamic/$c" ] && "$VZ" checkpoint --wait "$c" -q 2>/dev/null; done
	true
}

@test "a big insert is acknowledged before its index (a segment without a graph); queries and writes during its background checkpoint take under a second" {
	n=$(rows)
	fvecs "$BATS_TEST_TMPDIR/big.fvecs" "$n" 128 5
	"$VZ" create big --dim 128 --metric euclidean -q
	t0=$(date +%s%N)
	# the default (auto): a collection this big is checkpointed by a detached process
	run env -u VZ_AUTO_CHECKPOINT "$VZ" insert big "$BATS_TEST_TMPDIR/big.fvecs" --json
	ams=$(ms_since $t0)
	assert_success
	assert_output --partial "\"inserted\":$n,"
	[ "$ams" -lt 5000 ] || fail "$n rows acknowledged after $ams ms"
	# queryable at once, from a segment without a graph (scanned exactly), not from the WAL
	[ -f "$VZ_DATA_DIR/dynamic/big/seg-1.vec" ] || [ -f "$VZ_DATA_DIR/dynamic/big/index.hnsw" ] || fail "$(ls "$VZ_DATA_DIR/dynamic/big")"
	q=$(row_json "$BATS_TEST_TMPDIR/big.fvecs" 4242)
	run "$VZ" query big --vector "$q" -k 1 --json
	assert_output --partial '"id":"4242"'
	# the writer left the checkpoint to a detached process: wait until it builds
	# (the detached `vz checkpoint` of this test's data directory, which builds the index of the
	# segment the insert wrote, for seconds)
	running() { pgrep -f -- "--data-dir $VZ_DATA_DIR checkpoint --if-needed -q big" >/dev/null; }
	for i in $(seq 1 600); do running && break; sleep 0.05; done
	running || fail "no background checkpoint is running"
	t0=$(date +%s%N)
	run "$VZ" query big --vector "$q" -k 1 --json
	qms=$(ms_since $t0)
	assert_success
	assert_output --partial '"id":"4242"'
	t0=$(date +%s%N)
	run bash -c "echo '{\"id\":\"during\",\"vector\":$q,\"payload\":{\"x\":1}}' | '$VZ' insert big - --json"
	ims=$(ms_since $t0)
	assert_success
	# both happened while the build was still running, or the test proved nothing
	running || fail "the checkpoint ended before the query and insert were done"
	echo "acknowledged in $ams ms; query ${qms} ms, insert ${ims} ms during the checkpoint of $n rows"
	[ "$qms" -lt 1000 ] || fail "query took $qms ms during the checkpoint"
	[ "$ims" -lt 1000 ] || fail "insert took $ims ms during the checkpoint"
	# wait for it, folding nothing more (one operation is not due). The insert wrote a segment
	# without a graph (generation 1), the checkpoint the index (generation 2: vz-format(5),
	# Segments): an insert made before its snapshot is folded by it (no WAL left), one made during
	# its build stays in the new WAL; nothing is lost either way
	"$VZ" checkpoint --wait --if-needed big -q
	run "$VZ" info big --json
	assert_output --partial '"generation":2,'
	assert_output --partial "\"vectors\":$((n + 1)),"
	[[ "$output" == *'"wal_ops":1,'* && "$output" == *"\"rows\":$n,"* ]] ||
		[[ "$output" == *'"wal_ops":0,'* && "$output" == *"\"rows\":$((n + 1)),"* ]] ||
		fail "the insert made during the checkpoint is neither in the WAL nor in the checkpoint: $output"
	run "$VZ" get big during --json
	assert_success
	assert_output --partial '"payload":{"x":1}'
	run "$VZ" query big --vector "$(row_json "$BATS_TEST_TMPDIR/big.fvecs" 777)" -k 1 --ef 400 --json
	assert_output --partial '"id":"777"'
	run "$VZ" verify big
	assert_success
}

@test "the detached checkpoint of a writer: output not held, one at a time, inline and off modes" {
	"$VZ" create k --dim 4 --checkpoint-ops 10 -q
	jsonl 30 4 1 a >"$BATS_TEST_TMPDIR/a.jsonl"
	# a pipe reading the writer's output ends when the writer does, not when its checkpoint does
	VZ_AUTO_CHECKPOINT=background run bash -c "'$VZ' insert k '$BATS_TEST_TMPDIR/a.jsonl' --json | cat"
	assert_success
	assert_output --partial '"checkpointed":false'
	"$VZ" checkpoint --wait k -q
	run "$VZ" info k --json
	assert_output --partial '"wal_ops":0,'
	assert_output --partial '"generation":1,'
	# inline: the writer folds the log itself before it exits
	jsonl 30 4 2 b >"$BATS_TEST_TMPDIR/b.jsonl"
	VZ_AUTO_CHECKPOINT=inline run "$VZ" insert k "$BATS_TEST_TMPDIR/b.jsonl" --json
	assert_output --partial '"checkpointed":true'
	run "$VZ" info k --json
	assert_output --partial '"wal_ops":0,'
	assert_output --partial '"generation":2,'
	# auto (the default): a collection this small is folded by the writer itself
	jsonl 30 4 4 d >"$BATS_TEST_TMPDIR/d.jsonl"
	run env -u VZ_AUTO_CHECKPOINT "$VZ" insert k "$BATS_TEST_TMPDIR/d.jsonl" --json
	assert_output --partial '"checkpointed":true'
	run "$VZ" info k --json
	assert_output --partial '"wal_ops":0,'
	assert_output --partial '"generation":3,'
	# off: nothing folds it
	jsonl 30 4 3 c >"$BATS_TEST_TMPDIR/c.jsonl"
	VZ_AUTO_CHECKPOINT=off run "$VZ" insert k "$BATS_TEST_TMPDIR/c.jsonl" --json
	assert_output --partial '"checkpointed":false'
	sleep 0.3
	run "$VZ" info k --json
	assert_output --partial '"wal_ops":30,'
	# a second checkpoint while one runs waits, then fails with 75 naming the holder
	flock -o "$VZ_DATA_DIR/dynamic/k" sleep 10 &
	holder=$!
	for i in $(seq 1 200); do flock -n "$VZ_DATA_DIR/dynamic/k" true || break; sleep 0.05; done
	run "$VZ" --lock-timeout 200 checkpoint k
	assert_equal "$status" 75
	assert_output --partial "a checkpoint of k is already running"
	assert_output --partial "locked by process $holder"
	# writers and readers do not wait for it
	echo '{"id":"w","vector":[1,2,3,4]}' | "$VZ" --lock-timeout 200 insert k - -q
	run "$VZ" --lock-timeout 200 get k w
	assert_success
	kill $holder; wait $holder 2>/dev/null || true
	run "$VZ" checkpoint k --json
	assert_output --partial '"checkpointed":true'
	assert_output --partial '"operations":31,'
	run "$VZ" verify k
	assert_success
}

@test "a checkpoint killed with SIGKILL at random moments loses no acknowledged write" {
	"$VZ" create e --dim 16 --metric euclidean -q
	fvecs "$BATS_TEST_TMPDIR/base.fvecs" 3000 16 9
	VZ_AUTO_CHECKPOINT=off "$VZ" insert e "$BATS_TEST_TMPDIR/base.fvecs" -q
	: >"$BATS_TEST_TMPDIR/acked"
	for cycle in $(seq 1 12); do
		"$VZ" checkpoint e -q &
		ck=$!
		# writers go on while it runs; each acknowledged id is remembered
		for j in 1 2 3; do
			id="c${cycle}_$j"
			echo "{\"id\":\"$id\",\"vector\":[$cycle,$j,0,0,0,0,0,0,0,0,0,0,0,0,0,1]}" |
				VZ_AUTO_CHECKPOINT=off "$VZ" insert e - -q && echo "$id" >>"$BATS_TEST_TMPDIR/acked"
		done
		sleep "0.$((RANDOM % 400))"
		kill -9 $ck 2>/dev/null || true
		wait $ck 2>/dev/null || true
		run "$VZ" verify e
		assert_success
	done
	"$VZ" checkpoint --wait e -q
	run "$VZ" verify e
	assert_success
	"$VZ" dump e >"$BATS_TEST_TMPDIR/dump"
	[ "$(wc -l <"$BATS_TEST_TMPDIR/dump")" -eq $((1 + 3000 + $(wc -l <"$BATS_TEST_TMPDIR/acked"))) ] ||
		fail "dump has $(wc -l <"$BATS_TEST_TMPDIR/dump") lines for $(wc -l <"$BATS_TEST_TMPDIR/acked") acknowledged inserts"
	while read -r id; do grep -q "\"id\":\"$id\"" "$BATS_TEST_TMPDIR/dump" || fail "acknowledged $id is missing"; done <"$BATS_TEST_TMPDIR/acked"
	[ "$(wc -l <"$BATS_TEST_TMPDIR/acked")" -eq 36 ] || fail "only $(wc -l <"$BATS_TEST_TMPDIR/acked") of 36 inserts were acknowledged while checkpoints ran"
	[ ! -e "$VZ_DATA_DIR/dynamic/e/.vztmp.checkpoint" ] || fail "a killed checkpoint's staging was left behind after the next one"
}

@test "a load past the bulk threshold is acknowledged before its index (a segment without a graph); --bulk and inline mode build it first; SIGKILL loses nothing acknowledged" {
	"$VZ" create bl --dim 16 --metric cosine -q
	fvecs "$BATS_TEST_TMPDIR/a.fvecs" 6000 16 3
	fvecs "$BATS_TEST_TMPDIR/b.fvecs" 6000 16 4
	dir="$VZ_DATA_DIR/dynamic/bl"
	# VZ_BULK_BYTES lowers the threshold (256 MiB of log) to what a test can load
	export VZ_BULK_BYTES=100000
	VZ_AUTO_CHECKPOINT=off run "$VZ" insert bl "$BATS_TEST_TMPDIR/a.fvecs" --json -v
	assert_success
	assert_output --partial '"inserted":6000,'
	assert_output --partial 'straight into a segment, its index left to the checkpoint (bulk)'
	# the rows are committed as seg-1.vec, with no graph and no log copy
	[ -f "$dir/seg-1.vec" ] && [ ! -e "$dir/seg-1.hnsw" ] && [ ! -e "$dir/index.hnsw" ] || fail "$(ls "$dir")"
	run "$VZ" info bl --json
	assert_output --partial '"vectors":6000,'
	assert_output --partial '"wal_ops":0,'
	# queryable at once (scanned exactly), and every command works on it
	q=$(row_json "$BATS_TEST_TMPDIR/a.fvecs" 1234)
	run "$VZ" query bl --vector "$q" -k 1 --json
	assert_output --partial '"id":"1234"'
	run "$VZ" verify bl
	assert_success
	# a checkpoint is due (the index): --if-needed builds it, as the detached one would
	run "$VZ" checkpoint --if-needed bl --json
	assert_output --partial '"checkpointed":true'
	assert_output --partial '"generation":2,'
	[ -f "$dir/index.hnsw" ] && [ ! -e "$dir/seg-1.vec" ] || fail "$(ls "$dir")"
	run "$VZ" checkpoint --if-needed bl --json
	assert_output --partial '"checkpointed":false'
	# the default (auto): acknowledged the same way, and a detached checkpoint indexes it
	run env -u VZ_AUTO_CHECKPOINT "$VZ" insert bl "$BATS_TEST_TMPDIR/b.fvecs" --id-base 6000 --json
	assert_success
	assert_output --partial '"inserted":6000,'
	"$VZ" checkpoint --wait --if-needed bl -q
	run "$VZ" info bl --json
	assert_output --partial '"vectors":12000,'
	assert_output --partial '"generation":4,'
	[ ! -e "$dir/seg-3.vec" ] || fail "the detached checkpoint left the segment unindexed: $(ls "$dir")"
	run "$VZ" query bl --vector "$(row_json "$BATS_TEST_TMPDIR/b.fvecs" 77)" -k 1 --json
	assert_output --partial '"id":"6077"'
	# --bulk, and the inline setting: the index is built before the reply (one new base)
	"$VZ" create bl2 --dim 16 -q
	run "$VZ" insert bl2 "$BATS_TEST_TMPDIR/a.fvecs" --bulk --json
	assert_success
	[ -f "$VZ_DATA_DIR/dynamic/bl2/index.hnsw" ] && [ ! -e "$VZ_DATA_DIR/dynamic/bl2/seg-1.vec" ] || fail "$(ls "$VZ_DATA_DIR/dynamic/bl2")"
	"$VZ" create bl3 --dim 16 -q
	VZ_AUTO_CHECKPOINT=inline run "$VZ" insert bl3 "$BATS_TEST_TMPDIR/a.fvecs" --json
	assert_success
	[ -f "$VZ_DATA_DIR/dynamic/bl3/index.hnsw" ] && [ ! -e "$VZ_DATA_DIR/dynamic/bl3/seg-1.vec" ] || fail "$(ls "$VZ_DATA_DIR/dynamic/bl3")"
	# SIGKILL at random moments of deferred loads and of the checkpoints indexing them: a load is
	# all or nothing, an acknowledged one is all there, verify is clean after each
	"$VZ" drop bl --no-backup -q
	"$VZ" create bl --dim 16 --metric cosine -q
	head -c $((68 * 2000)) "$BATS_TEST_TMPDIR/a.fvecs" >"$BATS_TEST_TMPDIR/k.fvecs" # 2000 rows
	: >"$BATS_TEST_TMPDIR/acked"
	for cycle in $(seq 1 8); do
		killed_load_and_checkpoint bl "$BATS_TEST_TMPDIR/k.fvecs" $((cycle * 10000)) 60 "$BATS_TEST_TMPDIR/acked" 300
		"$VZ" dump bl >"$BATS_TEST_TMPDIR/dump"
		for c in $(seq 1 "$cycle"); do
			n=$(grep -c "\"id\":\"$((c * 10000 + 17))\"\|\"id\":\"$((c * 10000))\"\|\"id\":\"$((c * 10000 + 1999))\"" "$BATS_TEST_TMPDIR/dump" || true)
			# all three probes of a load, or none of them; and all of an acknowledged one
			[ "$n" -eq 0 ] || [ "$n" -eq 3 ] || fail "load $c is partly there ($n of 3 probe rows)"
			if grep -qx "$c" "$BATS_TEST_TMPDIR/acked" 2>/dev/null; then [ "$n" -eq 3 ] || fail "acknowledged load $c is missing"; fi
		done
	done
	"$VZ" checkpoint --wait bl -q
	run "$VZ" verify bl
	assert_success
	"$VZ" dump bl >"$BATS_TEST_TMPDIR/dump"
	rows=$(( $(wc -l <"$BATS_TEST_TMPDIR/dump") - 1 ))
	acked=$(wc -l <"$BATS_TEST_TMPDIR/acked" 2>/dev/null || echo 0)
	[ $((rows % 2000)) -eq 0 ] && [ "$rows" -ge $((acked * 2000)) ] || fail "$rows rows after $acked acknowledged loads of 2000"
	echo "$acked of 8 loads acknowledged before the kill"
}
