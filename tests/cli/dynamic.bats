#!/usr/bin/env bats
# Dynamic collections from the command line: create, insert, update, delete, get, apply, query,
# list, info, wal, drop; exit codes and refusals that leave the collection byte-for-byte unchanged.
load helper

setup() {
	"$VZ" create docs --dim 4 --metric euclidean -q
	jsonl 50 4 1 > "$BATS_TEST_TMPDIR/a.jsonl"
	"$VZ" insert docs "$BATS_TEST_TMPDIR/a.jsonl" -q
}

@test "create refuses a duplicate name with 73 and a bad name with 64" {
	run "$VZ" create docs --dim 4
	assert_equal "$status" 73
	assert_output --partial "already exists"
	for name in '../x' '/etc/x' 'a/b/c' '.hidden' '-x' "$(printf 'a\nb')" "$(head -c 65 /dev/zero | tr '\0' a)"; do
		run "$VZ" create --dim 4 -- "$name"
		assert_equal "$status" 64
	done
	[ ! -e "$VZ_DATA_DIR/x" ] && [ ! -e /etc/x ]
	run "$VZ" create p/c --dim 4
	assert_equal "$status" 64
	assert_output --partial "vectorize-workspace.yml"
	run "$VZ" create z
	assert_equal "$status" 64
	assert_output --partial "--dim is required"
	run "$VZ" create z --dim 0
	assert_equal "$status" 64
	run "$VZ" create z --dim 4 --metric manhattan
	assert_equal "$status" 64
	assert_output --partial "cosine euclidean dot_product"
}

@test "create --json prints the configuration" {
	run "$VZ" create e --dim 3 --metric dot_product --m 8 --ef-search 40 --json
	assert_success
	assert_output '{"collection":"e","dim":3,"metric":"dot_product","m":8,"ef_construction":200,"ef_search":40,"quantization":"none","embedding":null}'
}

@test "get prints stored payloads and vectors" {
	run "$VZ" get docs v3 --json
	assert_success
	assert_output '{"id":"v3","payload":{"i": 3}}'
	run "$VZ" get docs v3 --json --vector
	python3 -c 'import json,sys; o=json.loads(sys.argv[1]); assert len(o["vector"])==4' "$output"
	run "$VZ" get docs nosuch
	assert_equal "$status" 66
	assert_output --partial "no such id: nosuch"
	run "$VZ" get nosuch v1
	assert_equal "$status" 66
	assert_output --partial "no such collection: nosuch"
}

@test "query finds a vector's own id first and streams JSON lines best first" {
	q=$(sed -n 8p "$BATS_TEST_TMPDIR/a.jsonl" | python3 -c 'import json,sys; print(json.dumps(json.load(sys.stdin)["vector"]))')
	run "$VZ" query docs --vector "$q" -k 3 --json
	assert_success
	assert_line --index 0 --partial '{"id":"v7","score":0,'
	[ "${#lines[@]}" -eq 3 ]
	run "$VZ" query docs --vector "$q" -k 1
	assert_output --regexp $'^0\tv7\t'
	run "$VZ" query docs --vector '[1,2]' -k 1
	assert_equal "$status" 65
	assert_output --partial "dimension 2"
	run "$VZ" query docs -k 1
	assert_equal "$status" 64
}

@test "insert refuses an existing id unless --upsert, and nothing is written" {
	before=$(snapshot)
	run "$VZ" insert docs "$BATS_TEST_TMPDIR/a.jsonl"
	assert_equal "$status" 73
	assert_output --partial "line 1: id 'v0' already exists"
	[ "$(snapshot)" = "$before" ]
	jsonl 3 4 9 > "$BATS_TEST_TMPDIR/b.jsonl"
	run "$VZ" insert docs "$BATS_TEST_TMPDIR/b.jsonl" --upsert --json
	assert_success
	assert_output --partial '"inserted":0,"updated":3'
}

@test "update refuses a missing id; a line without payload keeps the old one" {
	before=$(snapshot)
	run bash -c "echo '{\"id\":\"zz\",\"vector\":[1,2,3,4]}' | '$VZ' update docs -"
	assert_equal "$status" 66
	assert_output --partial "cannot update id 'zz': no such id"
	[ "$(snapshot)" = "$before" ]
	echo '{"id":"v1","vector":[9,9,9,9]}' | "$VZ" update docs - -q
	run "$VZ" get docs v1 --json --vector
	assert_output '{"id":"v1","payload":{"i": 1},"vector":[9,9,9,9]}'
}

@test "deleted and updated ids are never returned by query" {
	"$VZ" delete docs v7 -q
	q=$(sed -n 8p "$BATS_TEST_TMPDIR/a.jsonl" | python3 -c 'import json,sys; print(json.dumps(json.load(sys.stdin)["vector"]))')
	run "$VZ" query docs --vector "$q" -k 50 --json
	refute_output --partial '"v7"'
	echo '{"id":"v8","vector":[100,100,100,100]}' | "$VZ" update docs - -q
	q8=$(sed -n 9p "$BATS_TEST_TMPDIR/a.jsonl" | python3 -c 'import json,sys; print(json.dumps(json.load(sys.stdin)["vector"]))')
	run "$VZ" query docs --vector "$q8" -k 1 --json
	refute_output --partial '"v8"'
	run "$VZ" query docs --vector '[100,100,100,100]' -k 1 --json
	assert_output --partial '"v8"'
	# the same after a checkpoint
	"$VZ" checkpoint docs -q
	run "$VZ" query docs --vector "$q" -k 50 --json
	refute_output --partial '"v7"'
	run "$VZ" query docs --vector '[100,100,100,100]' -k 1 --json
	assert_output --partial '"v8"'
}

@test "query results are identical before and after a checkpoint" {
	jsonl 30 4 5 w > "$BATS_TEST_TMPDIR/w.jsonl"
	"$VZ" checkpoint docs -q
	"$VZ" insert docs "$BATS_TEST_TMPDIR/w.jsonl" -q
	"$VZ" delete docs v1 v2 w3 -q
	for q in '[0,0,0,0]' '[1,-1,1,-1]' '[2,0.5,-1,0]'; do
		"$VZ" query docs --vector "$q" -k 10 --json > "$BATS_TEST_TMPDIR/before.$q"
	done
	"$VZ" checkpoint docs -q
	for q in '[0,0,0,0]' '[1,-1,1,-1]' '[2,0.5,-1,0]'; do
		run "$VZ" query docs --vector "$q" -k 10 --json
		assert_output "$(cat "$BATS_TEST_TMPDIR/before.$q")"
	done
}

@test "delete: missing ids refuse the batch unless --missing-ok; ids from a file" {
	before=$(snapshot)
	run "$VZ" delete docs v1 nosuch
	assert_equal "$status" 66
	[ "$(snapshot)" = "$before" ]
	run "$VZ" delete docs v1 nosuch --missing-ok --json
	assert_success
	assert_output --partial '"deleted":1,"skipped":1'
	printf 'v2\nv3\n' > "$BATS_TEST_TMPDIR/ids"
	run "$VZ" delete docs --file "$BATS_TEST_TMPDIR/ids" --json
	assert_success
	assert_output --partial '"deleted":2'
}

@test "apply is all or nothing" {
	cat > "$BATS_TEST_TMPDIR/ops.jsonl" <<'J'
{"op":"insert","id":"n1","vector":[1,1,1,1]}
{"op":"update","id":"v1","vector":[2,2,2,2],"payload":{"new":true}}
{"op":"delete","id":"v2"}
{"op":"upsert","id":"n2","vector":[3,3,3,3]}
J
	run "$VZ" apply docs "$BATS_TEST_TMPDIR/ops.jsonl" --json
	assert_success
	assert_output --partial '"inserted":2,"updated":1,"deleted":1'
	run "$VZ" get docs v1 --json
	assert_output '{"id":"v1","payload":{"new":true}}'
	before=$(snapshot)
	printf '%s\n' '{"op":"insert","id":"n3","vector":[1,1,1,1]}' '{"op":"delete","id":"gone"}' > "$BATS_TEST_TMPDIR/bad.jsonl"
	run "$VZ" apply docs "$BATS_TEST_TMPDIR/bad.jsonl"
	assert_equal "$status" 66
	assert_output --partial "line 2"
	[ "$(snapshot)" = "$before" ]
	run "$VZ" get docs n3
	assert_equal "$status" 66
}

@test "list and info report counts, WAL and the data directory in use" {
	run "$VZ" list --json
	assert_output '{"collection":"docs","kind":"dynamic","dim":4,"metric":"euclidean","vectors":50,"wal_ops":50,"bytes":'"$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["bytes"])' "$output")"',"state":"ok"}'
	run "$VZ" info docs --json
	assert_success
	python3 - "$output" <<'PY'
import json, sys
o = json.loads(sys.argv[1])
assert o["vectors"] == 50 and o["wal_ops"] == 50 and o["generation"] == 0 and o["last_checkpoint"] is None and o["embedding"] is None, o
PY
	"$VZ" checkpoint docs -q
	run "$VZ" info docs --json
	python3 -c 'import json,sys; o=json.loads(sys.argv[1]); assert o["wal_ops"]==0 and o["generation"]==1 and o["rows"]==50, o' "$output"
	run "$VZ" info --json
	assert_output --partial '"source":"VZ_DATA_DIR environment variable"'
	run "$VZ" --data-dir "$BATS_TEST_TMPDIR/other" info
	assert_output --partial "--data-dir option"
	mkdir -p "$BATS_TEST_TMPDIR/ws/sub" && touch "$BATS_TEST_TMPDIR/ws/vectorize-workspace.yml"
	run bash -c "cd '$BATS_TEST_TMPDIR/ws/sub' && env -u VZ_DATA_DIR '$VZ' info"
	assert_output --partial "$BATS_TEST_TMPDIR/ws/data"
	assert_output --partial "beside the nearest vectorize-workspace.yml"
	run bash -c "cd / && env -u VZ_DATA_DIR XDG_DATA_HOME=/tmp/xdg '$VZ' info --json"
	assert_output --partial '"data_dir":"/tmp/xdg/vz"'
}

@test "wal lists records with sequence, type, transaction, id and checksum" {
	echo '{"id":"q","vector":[1,2,3,4]}' | "$VZ" insert docs - -q
	run "$VZ" wal docs --json
	assert_success
	assert_line --index 0 --regexp '^\{"offset":64,"seq":1,"type":"begin","txn":1,"id":null,"size":12,"checksum_ok":true,"txn_state":"committed"\}$'
	assert_line --index 1 --partial '"type":"create"'
	assert_line --partial '"type":"insert","txn":4,"id":"v0"'
	assert_line --partial '"id":"q"'
	run "$VZ" wal docs
	assert_line --index 0 --regexp '^OFFSET +SEQ +TYPE'
}

@test "drop removes the collection" {
	run "$VZ" drop docs --no-backup
	assert_success
	run "$VZ" get docs v1
	assert_equal "$status" 66
	[ ! -e "$VZ_DATA_DIR/dynamic/docs" ]
	run "$VZ" drop docs --no-backup
	assert_equal "$status" 66
}

@test "an interrupted drop is finished by the next open" {
	# crash right after the DeleteCollection record is durable: the open finishes the drop
	n=1
	while :; do
		rm -rf "$BATS_TEST_TMPDIR/d"; cp -a "$VZ_DATA_DIR" "$BATS_TEST_TMPDIR/d"
		VZ_DATA_DIR="$BATS_TEST_TMPDIR/d" VZ_FAULT="$n:crash" "$VZ" drop docs --no-backup && break
		if [ -e "$BATS_TEST_TMPDIR/d/dynamic/docs" ]; then
			VZ_DATA_DIR="$BATS_TEST_TMPDIR/d" run "$VZ" get docs v1
			[ "$status" -eq 0 ] || [ "$status" -eq 66 ]
			if [ "$status" -eq 66 ]; then
				VZ_DATA_DIR="$BATS_TEST_TMPDIR/d" run "$VZ" checkpoint docs
				[ ! -e "$BATS_TEST_TMPDIR/d/dynamic/docs" ] || fail "drop not finished after crash at call $n"
			fi
		fi
		n=$((n + 1))
	done
}

@test "stdout write errors are I/O errors" {
	run bash -c "'$VZ' get docs v1 > /dev/full"
	assert_equal "$status" 74
	run bash -c "'$VZ' query docs --vector '[0,0,0,0]' -k 5 > /dev/full"
	assert_equal "$status" 74
}

@test "dump then load round-trips exactly" {
	echo '{"id":"p","vector":[0.1,0.2,0.3,0.4],"payload":{"s":"é\n\"x\"","n":[1, 2.50]}}' | "$VZ" insert docs - -q
	"$VZ" delete docs v4 -q
	"$VZ" dump docs > "$BATS_TEST_TMPDIR/d1"
	"$VZ" load docs2 "$BATS_TEST_TMPDIR/d1" -q
	"$VZ" dump docs2 > "$BATS_TEST_TMPDIR/d2"
	run diff <(sort "$BATS_TEST_TMPDIR/d1") <(sort "$BATS_TEST_TMPDIR/d2")
	assert_success
	run "$VZ" get docs2 p --json
	assert_output '{"id":"p","payload":{"s":"é\n\"x\"","n":[1, 2.50]}}'
	run "$VZ" load docs2 "$BATS_TEST_TMPDIR/d1"
	assert_equal "$status" 73
	echo 'not a dump' > "$BATS_TEST_TMPDIR/bad"
	run "$VZ" load docs3 "$BATS_TEST_TMPDIR/bad"
	assert_equal "$status" 65
	run "$VZ" get docs3 x
	assert_equal "$status" 66
}

@test "salvage drops a transaction missing a damaged record, whole, and says so" {
	"$VZ" create s --dim 3 -q
	echo '{"id":"a","vector":[1,0,0]}' | "$VZ" insert s - -q
	echo '{"id":"b","vector":[0,1,0]}' | "$VZ" insert s - -q
	w="$VZ_DATA_DIR/dynamic/s/wal.log"
	# the insert record of "a" (the record after the first begin following the create transaction)
	off=$("$VZ" wal s --json | python3 -c 'import json,sys; r=[json.loads(l) for l in sys.stdin if "\"seq\"" in l]; print([x for x in r if x["type"] == "insert"][0]["offset"] + 45)')
	printf X | dd of="$w" bs=1 seek="$off" conv=notrunc 2>/dev/null
	run "$VZ" recover s --mode salvage
	# the recovered checkpoint is written, but a committed transaction lost a record (not a
	# torn tail: good records follow the damage): exit 1
	assert_equal "$status" 1
	assert_output --partial "lost 64 bytes of the damaged log that could not be read"
	assert_output --partial "transactions replayed, 1 dropped"
	assert_output --regexp "[0-9]+ records salvaged after the damage"
	run "$VZ" dump s
	refute_output --partial '"id":"a"'
	assert_output --partial '"id":"b"'
	run "$VZ" verify s
	assert_success
}
