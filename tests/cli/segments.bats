#!/usr/bin/env bats
# A checkpoint's I/O grows with the change: an incremental checkpoint writes the rows it folds
# as a segment (seg-G.vec, seg-G.hnsw) beside a base it never rewrites; compaction (vz
# checkpoint --compact, or a checkpoint once the segments pile up) folds them into a new base.
load helper

# a base of 400 rows (dimension 8) in generation 1, then 12 operations in the WAL
setup_segment() { base_then_ops 10 9; }

meta() { python3 -c 'import json,sys; m=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$VZ_DATA_DIR/dynamic/s/metadata.json" "$1"; }

@test "an incremental checkpoint writes a segment and leaves vectors.bin and index.hnsw as they were" {
	setup_segment
	local d="$VZ_DATA_DIR/dynamic/s" before
	before=$(cd "$d" && sha256sum vectors.bin index.hnsw)
	run "$VZ" dump s
	local want="$output"
	run "$VZ" checkpoint s
	assert_success
	assert_output --partial "folded 12 operations; generation 2, 409 live vectors"
	assert_equal "$(cd "$d" && sha256sum vectors.bin index.hnsw)" "$before"
	assert_file_exists "$d/seg-2.vec"
	assert_file_exists "$d/seg-2.hnsw"
	assert_equal "$(meta 'm["format_version"], m["base_generation"], m["generation"], [(s["generation"], s["rows"], s["live"]) for s in m["segments"]]')" \
		"(3, 1, 2, [(2, 12, 11)])"
	# every reader sees the segment: the same rows as before the checkpoint
	run "$VZ" dump s
	assert_equal "$output" "$want"
	run "$VZ" get s v5
	assert_output 'v5	{"u":1}'
	run "$VZ" get s v7
	assert_equal "$status" 66
	run "$VZ" get s n3
	assert_success
	run "$VZ" query s --vector '[9,9,9,9,9,9,9,9]' -k 1
	assert_output --regexp $'^[0-9.e+-]+\tv5\t'
	# the base rows a segment replaced or deleted are never found, even nearest to their old vectors
	local old
	for i in 5 7; do
		old=$(python3 -c 'import json,sys; print(json.dumps(json.loads(open(sys.argv[1]).readlines()[int(sys.argv[2])])["vector"]))' "$BATS_TEST_TMPDIR/base.jsonl" $i)
		run "$VZ" query s --vector "$old" -k 3
		assert_success
		refute_output --partial "{\"i\": $i}"
		refute_output --partial $'\tv7\t'
	done
	run "$VZ" info s
	assert_output --partial "409 live (412 rows"
	run "$VZ" verify s
	assert_success
	# the next open of the collection for writing leaves listed segments alone
	echo '{"id":"z1","vector":[1,1,1,1,1,1,1,1]}' | "$VZ" insert s - -q
	assert_file_exists "$d/seg-2.vec"
	run "$VZ" dump s
	assert_success
	assert_equal "$(echo "$output" | wc -l)" $(( $(echo "$want" | wc -l) + 1 ))
}

@test "segments fold into a new base: vz checkpoint --compact, and when they pile up; recover writes only what changed" {
	setup_segment
	local d="$VZ_DATA_DIR/dynamic/s"
	"$VZ" checkpoint s -q
	jsonl 20 8 3 m | "$VZ" insert s - -q
	"$VZ" checkpoint s -q
	assert_equal "$(meta 'len(m["segments"])')" 2
	run "$VZ" dump s
	local want="$output"
	# recover of an undamaged collection: a new log, the base and the segments untouched
	jsonl 3 8 4 q | "$VZ" insert s - -q
	local before
	before=$(cd "$d" && sha256sum vectors.bin index.hnsw seg-2.vec seg-3.vec)
	run "$VZ" recover s
	assert_success
	assert_equal "$(cd "$d" && sha256sum vectors.bin index.hnsw seg-2.vec seg-3.vec)" "$before"
	assert_equal "$(meta 'len(m["segments"])')" 3
	run "$VZ" dump s
	assert_equal "$(echo "$output" | grep -vc '"q[0-9]')" "$(echo "$want" | wc -l)"
	# compaction: one base, no segments, format version 2 again, the same rows
	run "$VZ" checkpoint s --compact
	assert_success
	assert_equal "$(meta 'm["format_version"], m["base_generation"] if "base_generation" in m else None, "segments" in m')" "(2, None, False)"
	run ls "$d"
	refute_output --partial "seg-"
	run "$VZ" dump s
	assert_equal "$(echo "$output" | grep -vc '"q[0-9]')" "$(echo "$want" | wc -l)"
	run "$VZ" verify s
	assert_success
	# a change larger than a quarter of the base is folded into a new base at once
	jsonl 150 8 5 w | "$VZ" insert s - -q
	"$VZ" checkpoint s -q
	assert_equal "$(meta '"segments" in m')" False
	assert_equal "$(meta 'm["rows"] - m["tombstones"]')" 582
}

@test "a damaged or missing segment is named by verify; recover refuses and says restore from a backup" {
	setup_segment
	"$VZ" checkpoint s -q
	local d="$VZ_DATA_DIR/dynamic/s"
	cp -a "$d" "$BATS_TEST_TMPDIR/pristine"
	printf 'x' | dd of="$d/seg-2.vec" bs=1 seek=300 conv=notrunc 2>/dev/null
	run "$VZ" verify s
	assert_equal "$status" 1
	assert_line --index 0 "s: seg-2.vec: body checksum mismatch (bytes 64..end were changed)"
	local before
	before=$(sha256sum "$d/seg-2.vec")
	run "$VZ" recover s
	assert_equal "$status" 1
	assert_output --partial "seg-2.vec: body checksum mismatch"
	assert_output --partial "restore from a backup (nothing was changed)"
	assert_equal "$(sha256sum "$d/seg-2.vec")" "$before"
	# missing: readers are refused with its name, verify names it
	rm -rf "$d" && cp -a "$BATS_TEST_TMPDIR/pristine" "$d"
	rm "$d/seg-2.vec"
	run "$VZ" verify s
	assert_equal "$status" 1
	assert_line --index 0 "s: seg-2.vec: missing (metadata.json lists it)"
	run "$VZ" query s --vector '[9,9,9,9,9,9,9,9]' -k 1
	assert_equal "$status" 65
	assert_output --partial "seg-2.vec"
	run "$VZ" recover s
	assert_equal "$status" 1
	assert_output --partial "restore from a backup"
	# a segment of another generation put in its place is told apart
	rm -rf "$d" && cp -a "$BATS_TEST_TMPDIR/pristine" "$d"
	echo '{"id":"x","vector":[1,1,1,1,1,1,1,1]}' | "$VZ" insert s - -q
	"$VZ" checkpoint s -q
	cp "$d/seg-3.vec" "$BATS_TEST_TMPDIR/seg3"
	cp "$BATS_TEST_TMPDIR/seg3" "$d/seg-2.vec"
	run "$VZ" verify s
	assert_equal "$status" 1
	assert_line --index 0 "s: seg-2.vec: offset 0: generation 3, metadata.json says 2 (a newer copy?)"
}

@test "a backup carries the segments and restores them whole" {
	setup_segment
	"$VZ" checkpoint s -q
	run "$VZ" dump s
	local want="$output"
	"$VZ" backup s -o "$BATS_TEST_TMPDIR/b.vzb" -q
	"$VZ" drop s --no-backup -q
	run "$VZ" restore "$BATS_TEST_TMPDIR/b.vzb"
	assert_success
	assert_file_exists "$VZ_DATA_DIR/dynamic/s/seg-2.vec"
	run "$VZ" dump s
	assert_equal "$output" "$want"
	run "$VZ" verify s
	assert_success
}

@test "a large log is first written as a segment without a graph (readers map it), then indexed; killed in between, nothing is lost" {
	"$VZ" create f --dim 8 --metric euclidean --checkpoint-ops 100000000 -q
	jsonl 12000 8 1 > "$BATS_TEST_TMPDIR/f.jsonl"
	VZ_AUTO_CHECKPOINT=off "$VZ" insert f "$BATS_TEST_TMPDIR/f.jsonl" --no-bulk -q
	run "$VZ" dump f
	local want="$output" d="$VZ_DATA_DIR/dynamic/f"
	cp -a "$VZ_DATA_DIR" "$BATS_TEST_TMPDIR/pristine"
	VZ_IO_TRACE="$BATS_TEST_TMPDIR/trace" "$VZ" checkpoint f -q
	# the second pass starts with its own staging directory
	local n
	n=$(grep -n 'mkdir .*\.vztmp\.checkpoint$' "$BATS_TEST_TMPDIR/trace" | sed -n 2p | cut -d: -f1)
	[ -n "$n" ]
	run "$VZ" dump f
	assert_equal "$output" "$want"
	rm -rf "$VZ_DATA_DIR" && cp -a "$BATS_TEST_TMPDIR/pristine" "$VZ_DATA_DIR"
	run env VZ_FAULT="$n:crash" "$VZ" checkpoint f -q
	assert_equal "$status" 137
	# the first pass is committed: a segment without a graph, the log empty
	assert_equal "$(python3 -c 'import json,sys; m=json.load(open(sys.argv[1])); print([sorted(s) for s in m["segments"]])' "$d/metadata.json")" \
		"[['generation', 'live', 'rows', 'vectors']]"
	assert_file_not_exists "$d/seg-1.hnsw"
	run "$VZ" info f
	assert_output --partial "wal:             0 operations"
	run "$VZ" dump f
	assert_equal "$output" "$want"
	run "$VZ" get f v11999
	assert_success
	v=$(python3 -c 'import json,sys; print(json.dumps(json.loads(open(sys.argv[1]).readlines()[4321])["vector"]))' "$BATS_TEST_TMPDIR/f.jsonl")
	run "$VZ" query f --vector "$v" -k 1
	assert_output --regexp $'^[0-9.e+-]+\tv4321\t'
	run "$VZ" verify f
	assert_success
	# the next checkpoint builds the index: a base again, no segment left
	run "$VZ" checkpoint f
	assert_success
	run ls "$d"
	refute_output --partial "seg-"
	run "$VZ" dump f
	assert_equal "$output" "$want"
	run "$VZ" verify f
	assert_success
}
