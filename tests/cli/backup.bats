#!/usr/bin/env bats
# vz backup / vz restore from the command line: round trips with real collections, streaming,
# consistency under concurrent inserts, retention, damaged backups refused with the data
# directory untouched, --force with a safety backup, faults, drop's safety backup, --auto.
load helper

Q='[1,0,0,0,0,0,0,1]'

setup() {
	"$VZ" create b --dim 8 -q
	jsonl 300 8 5 > "$BATS_TEST_TMPDIR/a.jsonl"
	"$VZ" insert b "$BATS_TEST_TMPDIR/a.jsonl" -q
	"$VZ" checkpoint b -q
	jsonl 40 8 6 w > "$BATS_TEST_TMPDIR/w.jsonl"
	"$VZ" insert b "$BATS_TEST_TMPDIR/w.jsonl" -q # these stay in the WAL
	BK="$BATS_TEST_TMPDIR/bk.tar.zst"
}

# A workspace file in $BATS_TEST_TMPDIR/ws (made the current directory) whose backup section
# keeps 2 backups in DIR and backs up after checkpoints: backup_workspace DIR
backup_workspace() {
	mkdir -p "$BATS_TEST_TMPDIR/ws" && cd "$BATS_TEST_TMPDIR/ws"
	printf '%s\n' 'workspace:' '  name: t' 'projects:' '  - name: p' '    path: .' '    collections:' \
		'      - name: docs' '        include_patterns: ["*.md"]' 'backup:' "  directory: $1" '  keep: 2' \
		'  after_checkpoint: true' > vectorize-workspace.yml
}

live_of() { "$VZ" info "$1" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["vectors"])'; }

@test "round trip: tar lists the manifest first, verify passes, the restored collection answers the same" {
	run "$VZ" backup --all -o "$BK"
	assert_success
	assert_output --partial "1 collection"
	run tar --zstd -tf "$BK"
	assert_success
	assert_line --index 0 "vz-backup/manifest.json"
	assert_line "dynamic/b/wal.log"
	refute_output --partial "LOCK"
	run "$VZ" backup --verify "$BK"
	assert_success
	assert_output --partial "ok"
	want=$("$VZ" query b --vector "$Q" -k 10 --json)
	export VZ_DATA_DIR="$BATS_TEST_TMPDIR/empty"
	run "$VZ" restore "$BK"
	assert_success
	assert_output --partial "restored b"
	run "$VZ" verify --all
	assert_success
	run "$VZ" query b --vector "$Q" -k 10 --json
	assert_output "$want"
	assert_equal "$(live_of b)" 340
}

@test "backup -o - streams to stdout; restore reads stdin with -" {
	"$VZ" backup b -o - > "$BK"
	run "$VZ" backup --verify "$BK" --json
	assert_success
	assert_output --partial '"collections":1'
	"$VZ" backup b -o - | tar --zstd -tf - > "$BATS_TEST_TMPDIR/list"
	grep -qx 'vz-backup/manifest.json' "$BATS_TEST_TMPDIR/list"
	export VZ_DATA_DIR="$BATS_TEST_TMPDIR/other"
	run "$VZ" restore - < "$BK"
	assert_success
	assert_equal "$(live_of b)" 340
}

@test "a backup taken while another process keeps inserting is a consistent point in time" {
	(for i in $(seq 1 40); do jsonl 10 8 "$i" "t${i}_" | "$VZ" insert b - -q || exit 1; done) &
	writer=$!
	for k in 1 2 3 4; do
		"$VZ" backup b -o "$BATS_TEST_TMPDIR/c$k.tar.zst" -q
	done
	wait "$writer"
	for k in 1 2 3 4; do
		run "$VZ" backup --verify "$BATS_TEST_TMPDIR/c$k.tar.zst"
		assert_success
		VZ_DATA_DIR="$BATS_TEST_TMPDIR/r$k" "$VZ" restore "$BATS_TEST_TMPDIR/c$k.tar.zst" -q
		VZ_DATA_DIR="$BATS_TEST_TMPDIR/r$k" run "$VZ" verify b
		assert_success
		# every insert is a transaction of 10: a snapshot holds whole transactions only
		n=$(VZ_DATA_DIR="$BATS_TEST_TMPDIR/r$k" live_of b)
		[ $(( (n - 340) % 10 )) -eq 0 ] && [ "$n" -ge 340 ] && [ "$n" -le 740 ]
	done
	assert_equal "$(live_of b)" 740
}

@test "--dir --keep: timestamped names, the newest kept, other files untouched" {
	D="$BATS_TEST_TMPDIR/nightly"
	mkdir -p "$D"
	echo mine > "$D/notes.txt"
	for i in 1 2 3 4; do
		run "$VZ" backup --all --dir "$D" --keep 2
		assert_success
		assert_line --index 0 --regexp "^$D/vz-[0-9]{8}T[0-9]{6}Z(\.[0-9]+)?\.tar\.zst$"
		last=${lines[0]}
	done
	assert_equal "$(ls "$D" | grep -cE '^vz-[0-9]{8}T[0-9]{6}Z(\.[0-9]+)?\.tar\.zst$')" 2
	assert_file_exists "$D/notes.txt"
	assert_file_exists "$last"
	[ -z "$(ls -A "$D" | grep vztmp)" ]
	run "$VZ" backup --verify "$last"
	assert_success
}

@test "damaged backups: verify exits 1 naming the problem, restore refuses and changes nothing" {
	"$VZ" backup b -o "$BK" -q
	sz=$(stat -c %s "$BK")
	"$VZ" create other --dim 8 -q
	before=$(snapshot)
	for off in 0 4 5 40 $((sz / 3)) $((sz / 2)) $((sz - 40)) $((sz - 1)); do
		cp "$BK" "$BATS_TEST_TMPDIR/bad.tar.zst"
		printf '\x5a' | dd of="$BATS_TEST_TMPDIR/bad.tar.zst" bs=1 seek="$off" conv=notrunc 2>/dev/null
		cmp -s "$BK" "$BATS_TEST_TMPDIR/bad.tar.zst" && continue # the byte was already 0x5a
		run "$VZ" backup --verify "$BATS_TEST_TMPDIR/bad.tar.zst"
		assert_equal "$status" 1
		assert_output --partial "bad.tar.zst"
		run "$VZ" verify --backup "$BATS_TEST_TMPDIR/bad.tar.zst"
		assert_equal "$status" 1
		assert_output --partial "bad.tar.zst"
		run "$VZ" restore "$BATS_TEST_TMPDIR/bad.tar.zst" --force
		assert_equal "$status" 65
		assert_output --partial "nothing was restored"
		assert_equal "$(snapshot)" "$before"
	done
	for cut in 0 1 10 $((sz / 2)) $((sz - 33)) $((sz - 32)) $((sz - 1)); do
		head -c "$cut" "$BK" > "$BATS_TEST_TMPDIR/cut.tar.zst"
		run "$VZ" backup --verify "$BATS_TEST_TMPDIR/cut.tar.zst"
		assert_equal "$status" 1
		run "$VZ" restore "$BATS_TEST_TMPDIR/cut.tar.zst" --force
		assert_equal "$status" 65
		assert_equal "$(snapshot)" "$before"
	done
	[ -z "$(find "$VZ_DATA_DIR" -name '.vztmp*')" ]
}

@test "a repacked archive with a changed file is named by verify and refused by restore" {
	"$VZ" backup b -o "$BK" -q
	# same length, other content: the tar and zstd layers are valid, only the manifest catches it
	zstd -q -d -c "$BK" | python3 -c '
import io, sys, tarfile
src = tarfile.open(fileobj=io.BytesIO(sys.stdin.buffer.read()))
out = tarfile.open(fileobj=sys.stdout.buffer, mode="w|", format=tarfile.PAX_FORMAT)
for m in src.getmembers():
    d = bytearray(src.extractfile(m).read())
    if m.name == "dynamic/b/wal.log": d[100] ^= 0xff
    out.addfile(m, io.BytesIO(bytes(d)))
out.close()' | zstd -q --check -o "$BATS_TEST_TMPDIR/re.tar.zst"
	run "$VZ" backup --verify "$BATS_TEST_TMPDIR/re.tar.zst"
	assert_equal "$status" 1
	# foreign writers lack vz's end-of-backup checksum: refused as well, after the content checks
	assert_output --partial "dynamic/b/wal.log: checksum mismatch"
	export VZ_DATA_DIR="$BATS_TEST_TMPDIR/fresh"
	run "$VZ" restore "$BATS_TEST_TMPDIR/re.tar.zst"
	assert_equal "$status" 65
	[ -z "$(ls -A "$VZ_DATA_DIR/dynamic" 2>/dev/null)" ]
}

@test "restore refuses an existing collection with 73; --force keeps a safety backup of it" {
	"$VZ" backup b -o "$BK" -q
	jsonl 5 8 9 late > "$BATS_TEST_TMPDIR/late.jsonl"
	"$VZ" insert b "$BATS_TEST_TMPDIR/late.jsonl" -q
	before=$(snapshot)
	run "$VZ" restore "$BK"
	assert_equal "$status" 73
	assert_output --partial "--force"
	assert_equal "$(snapshot)" "$before"
	run "$VZ" restore "$BK" --force
	assert_success
	assert_output --regexp "saved in .*/backups/vz-b-[0-9]{8}T[0-9]{6}Z\.tar\.zst"
	assert_equal "$(live_of b)" 340
	safety=$(ls "$VZ_DATA_DIR"/backups/vz-b-*.tar.zst)
	run "$VZ" restore "$safety" --as b2
	assert_success
	assert_equal "$(live_of b2)" 345
	run "$VZ" get b2 late0 --json
	assert_success
	# restore one collection of several, under another name
	run "$VZ" backup b b2 -o "$BATS_TEST_TMPDIR/two.tar.zst"
	assert_success
	run "$VZ" restore "$BATS_TEST_TMPDIR/two.tar.zst" b2 --as b3 --json
	assert_success
	assert_output '{"collection":"b3","safety_backup":null}'
	run "$VZ" restore "$BATS_TEST_TMPDIR/two.tar.zst" nope
	assert_equal "$status" 66
}

@test "disk full at any point of a backup leaves earlier backups intact and no partial file" {
	D="$BATS_TEST_TMPDIR/nightly"
	"$VZ" backup b --dir "$D" -q
	first=$(ls "$D")
	sum=$(sha256sum "$D/$first")
	# every counted I/O call of one backup, and those whose failure must fail it: all but the
	# removal of the private staging directory (left for the next run to clean)
	VZ_IO_TRACE="$BATS_TEST_TMPDIR/trace" "$VZ" backup b --dir "$D" --keep 0 -q >/dev/null
	rm "$D/$(ls "$D" | grep -v "^$first$")"
	calls=$(wc -l < "$BATS_TEST_TMPDIR/trace")
	must_fail=$(grep -cvE '^[0-9]+ (unlink|rmdir) .*/\.vztmp\.stage\.' "$BATS_TEST_TMPDIR/trace")
	[ "$calls" -gt 10 ]
	failed=0
	for n in $(seq 1 "$calls"); do
		count=$(ls "$D" | wc -l)
		VZ_FAULT="$n:ENOSPC" run "$VZ" backup b --dir "$D" --keep 0
		if [ "$status" -ne 0 ]; then
			assert_equal "$status" 74
			assert_output --partial "No space left on device"
			assert_equal "$(ls "$D" | wc -l)" "$count"
			failed=$((failed + 1))
		fi
		assert_equal "$(sha256sum "$D/$first")" "$sum"
		[ -z "$(ls -A "$D" | grep vztmp)" ]
		for f in "$D"/*.tar.zst; do "$VZ" backup --verify "$f" --quick -q; done
		VZ_FAULT="$n:ENOSPC" run "$VZ" backup b -o "$BATS_TEST_TMPDIR/one.tar.zst"
		# -o FILE: absent, or whole (only the final directory fsync can fail after the rename)
		[ ! -e "$BATS_TEST_TMPDIR/one.tar.zst" ] || "$VZ" backup --verify "$BATS_TEST_TMPDIR/one.tar.zst" --quick -q
		rm -f "$BATS_TEST_TMPDIR/one.tar.zst"
		# a staging directory whose removal failed is removed by the next run (which would
		# shift the call numbers): do it here
		rm -rf "$VZ_DATA_DIR"/.vztmp.stage.*
	done
	assert_equal "$failed" "$must_fail"
}

@test "the snapshot's hard links go through the I/O layer: a failing one fails the backup cleanly, EXDEV falls back to a copy" {
	VZ_IO_TRACE="$BATS_TEST_TMPDIR/trace" "$VZ" backup b -o "$BATS_TEST_TMPDIR/probe.tar.zst" -q
	# vectors.bin, index.hnsw and metadata.json are linked into the staging directory; wal.log is copied
	n=$(awk '$2 == "link" {print $1; exit}' "$BATS_TEST_TMPDIR/trace")
	[ -n "$n" ]
	assert_equal "$(awk '$2 == "link"' "$BATS_TEST_TMPDIR/trace" | wc -l)" 3
	grep -q '^[0-9]* link .*/\.vztmp\.stage\.[0-9a-f]*/s0/' "$BATS_TEST_TMPDIR/trace"
	before=$("$VZ" dump b | sha256sum)
	VZ_FAULT="$n:EIO" run "$VZ" backup b -o "$BK"
	assert_equal "$status" 74
	assert_output --regexp "^vz backup: .*/\.vztmp\.stage\.[0-9a-f]+/s0/[a-z.]+: link: Input/output error"
	[ ! -e "$BK" ]
	[ -z "$(ls -A "$BATS_TEST_TMPDIR" | grep vztmp)" ]
	[ -z "$(ls -A "$VZ_DATA_DIR" | grep vztmp)" ]
	assert_equal "$("$VZ" dump b | sha256sum)" "$before"
	run "$VZ" verify b
	assert_success
	# a file system that cannot link (EXDEV: 18): the file is copied, the backup is whole
	VZ_FAULT="$n:18" run "$VZ" backup b -o "$BK"
	assert_success
	run "$VZ" backup --verify "$BK"
	assert_success
	cmp <(tar --zstd -xOf "$BK" dynamic/b/vectors.bin) "$VZ_DATA_DIR/dynamic/b/vectors.bin"
}

@test "drop writes a safety backup first, which restores the collection" {
	run "$VZ" drop b
	assert_success
	assert_output --partial "safety backup of b"
	run "$VZ" list
	refute_output --partial "b"
	safety=$(ls "$VZ_DATA_DIR"/backups/vz-b-*.tar.zst)
	run "$VZ" restore "$safety"
	assert_success
	assert_equal "$(live_of b)" 340
}

@test "--auto follows the backup section of vectorize-workspace.yml (after_checkpoint folds the WAL)" {
	backup_workspace nightly
	for i in 1 2 3; do
		run "$VZ" backup --auto
		assert_success
	done
	assert_equal "$(ls nightly | grep -c '^vz-.*\.tar\.zst$')" 2
	run "$VZ" info b --json
	assert_output --partial '"wal_ops":0'
	# without a backup section --auto is a configuration error (78)
	sed -i '/^backup:/,$d' vectorize-workspace.yml
	run "$VZ" backup --auto
	assert_equal "$status" 78
	assert_output --partial "backup"
}

@test "usage errors and missing things have their exit codes" {
	run "$VZ" backup b
	assert_equal "$status" 64
	run "$VZ" backup b -o x --dir y
	assert_equal "$status" 64
	run "$VZ" backup b -o x --keep 3
	assert_equal "$status" 64
	run "$VZ" backup b -o "$BK" --level 99
	assert_equal "$status" 64
	run "$VZ" backup nope -o "$BK"
	assert_equal "$status" 66
	[ ! -e "$BK" ]
	run "$VZ" backup ../x -o "$BK"
	assert_equal "$status" 64
	run "$VZ" backup --verify "$BATS_TEST_TMPDIR/missing.tar.zst"
	assert_equal "$status" 66
	run "$VZ" restore "$BATS_TEST_TMPDIR/missing.tar.zst"
	assert_equal "$status" 66
	"$VZ" backup b -o "$BK" -q
	run "$VZ" restore "$BK" --as ../evil
	assert_equal "$status" 64
	[ ! -e "$VZ_DATA_DIR/evil" ]
}

@test "verify --backup checks an archive as backup --verify does; it takes no collections" {
	"$VZ" backup b -o "$BK" -q
	run "$VZ" verify --backup "$BK" --json
	assert_success
	assert_output --partial '"collections":1'
	assert_output --partial '"backup":'
	run "$VZ" verify --backup "$BK" --quick
	assert_success
	assert_output --partial ": ok ("
	run "$VZ" verify b --backup "$BK"
	assert_equal "$status" 64
	run "$VZ" verify --backup "$BATS_TEST_TMPDIR/none.tar.zst"
	assert_equal "$status" 66
}

@test "checkpoint backs up what it folded when the workspace file says after_checkpoint" {
	backup_workspace after
	run "$VZ" checkpoint b
	assert_success
	assert_output --partial "backup after checkpoint: "
	assert_equal "$(ls after | grep -c '^vz-.*\.tar\.zst$')" 1
	run "$VZ" backup --verify "after/$(ls after)"
	assert_success
	# nothing folded: no new backup
	sleep 1.1
	run "$VZ" checkpoint b
	assert_success
	assert_equal "$(ls after | wc -l)" 1
	# the setting off: checkpoints write no backup
	sed -i 's/after_checkpoint: true/after_checkpoint: false/' vectorize-workspace.yml
	jsonl 3 8 9 z | "$VZ" insert b -q
	run "$VZ" checkpoint b
	assert_success
	assert_equal "$(ls after | wc -l)" 1
	# a backup that cannot be written fails the command; the checkpoint stands
	sed -i 's/after_checkpoint: false/after_checkpoint: true/; s/directory: after/directory: \/proc\/none/' vectorize-workspace.yml
	jsonl 3 8 10 y | "$VZ" insert b -q
	run "$VZ" checkpoint b
	[ "$status" -ne 0 ]
	assert_output --partial "backup after checkpoint"
	run "$VZ" info b --json
	assert_output --partial '"wal_ops":0'
}
