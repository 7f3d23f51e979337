#!/usr/bin/env bats
# vz recover and a segment's graph: seg-G.hnsw is derived from seg-G.vec (checksummed), so a
# damaged, missing or cut graph is built again from the segment's rows, atomically; a damaged
# seg-G.vec still calls for a backup. Crashes and power cuts during the rebuild leave the
# collection as it was or repaired.
load helper

# a base of 400 rows (dimension 8), then a segment (generation 2) of 60 inserts, an update and
# a delete; then 5 more inserts left in the WAL
setup_segment() {
	base_then_ops 60 3
	"$VZ" checkpoint s -q
	jsonl 5 8 3 w | "$VZ" insert s - -q
	D="$VZ_DATA_DIR/dynamic/s"
	[ -f "$D/seg-2.hnsw" ] || fail "no segment graph was written"
}

# the answers of a few queries near segment rows and base rows, and every row
answers() {
	local q
	for q in '[0,0,0,0,0,0,0,0]' '[3,3,3,3,3,3,3,3]' '[1,-1,1,-1,1,-1,1,-1]' '[-2,0,2,0,-2,0,2,0]'; do
		"$VZ" query s --vector "$q" -k 10 || return 1
	done
	"$VZ" dump s -q
}

@test "a flipped byte, a missing and a cut segment graph: verify names it, recover builds it from the segment's rows, the answers are those of before" {
	setup_segment
	local want
	want=$(answers)
	cp -a "$VZ_DATA_DIR" "$BATS_TEST_TMPDIR/pristine"
	for damage in flip delete truncate; do
		rm -rf "$VZ_DATA_DIR" && cp -a "$BATS_TEST_TMPDIR/pristine" "$VZ_DATA_DIR"
		case $damage in
		flip) printf 'x' | dd of="$D/seg-2.hnsw" bs=1 seek=300 conv=notrunc 2>/dev/null ;;
		delete) rm "$D/seg-2.hnsw" ;;
		truncate) truncate -s 100 "$D/seg-2.hnsw" ;;
		esac
		run "$VZ" verify s
		assert_equal "$status" 1
		case $damage in
		flip) assert_line --index 0 "s: seg-2.hnsw: body checksum mismatch (bytes 64..end were changed)" ;;
		delete) assert_line --index 0 "s: seg-2.hnsw: missing (metadata.json lists it)" ;;
		truncate) assert_line --index 0 --regexp '^s: seg-2\.hnsw: size 100, metadata\.json says [0-9]+$' ;;
		esac
		assert_line "vz verify: s: $([ $damage = truncate ] && echo 2 problems || echo 1 problem) found"
		# readers check a graph's header, not its body (vz-format(5)): a missing or cut one is
		# refused, naming it and what to run
		if [ "$damage" != flip ]; then
			run "$VZ" query s --vector '[0,0,0,0,0,0,0,0]' -k 3
			assert_equal "$status" 65
			assert_output --partial "segment graph unusable (run vz recover to rebuild it): $D/seg-2.hnsw: "
		fi
		local vec
		vec=$(sha256sum "$D/seg-2.vec" "$D/vectors.bin" "$D/index.hnsw")
		run "$VZ" recover s
		assert_success
		assert_line "vz recover: s: 1 segment graph rebuilt from the segment's rows"
		assert_line "vz recover: s: 1 transaction replayed, 0 dropped, 0 WAL bytes dropped"
		# the rows are the ones the checkpoints wrote: only the graph is new
		assert_equal "$(sha256sum "$D/seg-2.vec" "$D/vectors.bin" "$D/index.hnsw")" "$vec"
		run "$VZ" verify s
		assert_success
		assert_equal "$(answers)" "$want"
		run ls -a "$D"
		refute_output --partial ".vztmp"
	done
}

@test "recover --dry-run of a damaged segment graph says it would rebuild it and changes nothing" {
	setup_segment
	rm "$D/seg-2.hnsw"
	local before
	before=$(snapshot)
	run "$VZ" recover s --dry-run --json
	assert_success
	assert_output --partial '"dry_run":true,"ok":true,"records_replayed":7,"transactions_replayed":1,'
	assert_output --partial '"graphs_rebuilt":1,'
	assert_equal "$(snapshot)" "$before"
	run "$VZ" recover s --dry-run
	assert_line "vz recover: s: 1 segment graph would be rebuilt from the segment's rows"
	assert_equal "$(snapshot)" "$before"
}

@test "a damaged segment's rows still call for a backup, with its graph damaged too: nothing is changed" {
	setup_segment
	printf 'x' | dd of="$D/seg-2.vec" bs=1 seek=200 conv=notrunc 2>/dev/null
	rm "$D/seg-2.hnsw"
	local before
	before=$(snapshot)
	run "$VZ" verify s
	assert_equal "$status" 1
	assert_line --index 0 "s: seg-2.vec: body checksum mismatch (bytes 64..end were changed)"
	assert_line --index 1 "s: seg-2.hnsw: missing (metadata.json lists it)"
	run "$VZ" recover s
	assert_equal "$status" 1
	assert_output --partial "seg-2.vec: body checksum mismatch"
	assert_output --partial "restore from a backup (nothing was changed)"
	assert_equal "$(snapshot)" "$before"
	# a graph of another segment put in its place is told apart and rebuilt
	rm -rf "$VZ_DATA_DIR"
	setup_segment
	"$VZ" checkpoint s -q
	local want
	want=$(answers)
	cp "$D/seg-3.hnsw" "$D/seg-2.hnsw"
	run "$VZ" verify s
	assert_equal "$status" 1
	assert_line --index 0 "s: seg-2.hnsw: offset 0: generation 3, metadata.json says 2 (a newer copy?)"
	assert_line --index 1 "vz verify: s: 1 problem found"
	run "$VZ" recover s
	assert_success
	run "$VZ" verify s
	assert_success
	assert_equal "$(answers)" "$want"
}

@test "crash, power cut and I/O errors at each I/O call of a segment graph's rebuild: as it was or repaired, then recover repairs" {
	setup_segment
	local want
	want=$(answers)
	# a graph of so few rows is built on one thread: the rebuilt one is the same bytes
	cp "$D/seg-2.hnsw" "$BATS_TEST_TMPDIR/graph"
	rm "$D/seg-2.hnsw"
	cp -a "$VZ_DATA_DIR" "$BATS_TEST_TMPDIR/damaged"
	# the rebuild's I/O calls: the graph's temp file to the commit of metadata.json naming it
	# (the checkpoint after it is the durability tests' business)
	VZ_IO_TRACE="$BATS_TEST_TMPDIR/trace" "$VZ" recover s -q
	local last
	last=$(awk '$2 == "rename" && $3 ~ /\/metadata\.json$/ {print $1 + 1; exit}' "$BATS_TEST_TMPDIR/trace")
	head -1 "$BATS_TEST_TMPDIR/trace" | grep -q "^1 open $D/\.vztmp\.seg-2\.hnsw\." ||
		fail "the first I/O call is not the graph's temp file: $(head -1 "$BATS_TEST_TMPDIR/trace")"
	[ "$(sed -n "${last}p" "$BATS_TEST_TMPDIR/trace" | awk '{print $2}')" = fsync_dir ] || fail "no fsync of the directory after the commit"
	for kind in crash powercut garble EIO ENOSPC; do
		local n asitwas=0
		for ((n = 1; n <= last; n++)); do
			rm -rf "$VZ_DATA_DIR" && cp -a "$BATS_TEST_TMPDIR/damaged" "$VZ_DATA_DIR"
			run env VZ_FAULT="$n:$kind" "$VZ" recover s -q
			case $kind in
			E*) [ "$status" -eq 74 ] || fail "recover under VZ_FAULT=$n:$kind exited $status: $output" ;;
			*) [ "$status" -eq 137 ] || fail "recover under VZ_FAULT=$n:$kind exited $status: $output" ;;
			esac
			run "$VZ" verify s
			if [ "$status" -ne 0 ]; then
				# as it was: the graph still named (nothing else), the rows all there
				assert_equal "$status" 1
				assert_line --index 0 --regexp '^s: seg-2\.hnsw: '
				assert_line --index 1 --regexp '^vz verify: s: [12] problems? found$'
				asitwas=$((asitwas + 1))
			fi
			run "$VZ" recover s -q
			assert_success
			run "$VZ" verify s
			assert_success
			[ "$(answers)" = "$want" ] || fail "after VZ_FAULT=$n:$kind and recover, the answers differ"
			cmp -s "$D/seg-2.hnsw" "$BATS_TEST_TMPDIR/graph" || fail "after VZ_FAULT=$n:$kind and recover, the graph is not the one it replaced"
		done
		[ "$asitwas" -gt 0 ] || fail "$kind: no fault left the graph as it was"
	done
}

# The offsets of the sections of a vectors.bin or a graph file (vz-format(5)): the layout
# block, then each section's first byte and the file's last byte.
sections() {
	python3 - "$1" <<'PY'
import struct, sys
b = open(sys.argv[1], "rb").read()
magic = b[:8]
if magic == b"VZVECS01":
    rows, dim, metric, vec, ri, heap, heap_len, hsh = struct.unpack_from("<QIIQQQQQ", b, 64)
    offs = [64, vec, vec + rows * dim * 2, ri, heap, hsh]
else:
    lv, l0, ui, up = struct.unpack_from("<QQQQ", b, 64 + 32)
    offs = [64, lv, l0, l0 + (ui - l0) // 2, ui, up]
print(" ".join(str(o) for o in offs + [len(b) - 1]))
PY
}

@test "recover of a collection with segments and a log finds a bit flipped in any section of any data file: names it, writes nothing from it" {
	setup_segment
	jsonl 3 8 4 x | "$VZ" insert s - -q
	local want rows
	want=$(answers)
	rows=$("$VZ" dump s -q)
	cp -a "$VZ_DATA_DIR" "$BATS_TEST_TMPDIR/pristine"
	local file at byte n=0
	for file in vectors.bin seg-2.vec index.hnsw seg-2.hnsw wal.log; do
		local offsets
		local orig="$BATS_TEST_TMPDIR/pristine/dynamic/s/$file"
		if [ "$file" = wal.log ]; then offsets="80 $(($(stat -c %s "$orig") - 1))"; else offsets=$(sections "$orig"); fi
		for at in $offsets; do
			rm -rf "$VZ_DATA_DIR" && cp -a "$BATS_TEST_TMPDIR/pristine" "$VZ_DATA_DIR"
			byte=$(od -An -tu1 -j "$at" -N1 "$D/$file")
			printf "\\$(printf %o $((byte ^ 1)))" | dd of="$D/$file" bs=1 seek="$at" conv=notrunc status=none
			local before
			before=$(snapshot)
			run "$VZ" recover s
			n=$((n + 1))
			case $file in
			*.vec | vectors.bin)
				# the rows exist nowhere else: refused, named, nothing changed
				[ "$status" -eq 1 ] || fail "$file byte $at: recover exited $status: $output"
				assert_output --partial "$file: "
				assert_output --partial "restore from a backup (nothing was changed)"
				assert_equal "$(snapshot)" "$before"
				run "$VZ" verify s
				assert_equal "$status" 1
				assert_line --index 0 --partial "s: $file: " ;;
			*.hnsw)
				# a graph is made again from its rows, which were found whole
				[ "$status" -eq 0 ] || fail "$file byte $at: recover exited $status: $output"
				assert_output --regexp "(index rebuilt|1 segment graph rebuilt from the segment's rows)"
				run "$VZ" verify s
				assert_success
				assert_equal "$("$VZ" dump s -q)" "$rows"
				[ "$file" = index.hnsw ] || assert_equal "$(answers)" "$want" ;;
			wal.log)
				# a record of the log: in the first of its two transactions, what was dropped is
				# named (exit 1); in the last one, a write a crash cut short, never acknowledged
				if [ "$at" = 80 ]; then
					[ "$status" -eq 1 ] || fail "$file byte $at: recover exited $status: $output"
					assert_output --partial "wal.log: offset 64: "
					assert_output --partial "lost 3 records of the damaged log: ids x0, x1, x2 (and records that could not be read)"
				else
					[ "$status" -eq 0 ] || fail "$file byte $at: recover exited $status: $output"
					assert_output --partial "(torn tail)"
					assert_output --partial "dropped the unfinished write at the end of the log, never acknowledged (a crash cut it short; restore from a backup if it was acknowledged): ids x0, x1, x2"
				fi
				run "$VZ" verify s
				assert_success ;;
			esac
		done
	done
	[ "$n" -ge 30 ] || fail "only $n damaged copies were recovered"
}
