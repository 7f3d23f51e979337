#!/usr/bin/env bats
# The smaller defects of issue 15, one test each: hostile inputs (.npy shapes, NUL, invalid
# UTF-8), data that would drive the terminal, symlinks above and inside the data directory,
# read-only data directories, and what each command then does.
load helper

# an .npy of float32 rows: npy FILE SHAPE ROWS COLS [HEADER_LEN]; SHAPE is the header's text
npy() {
	python3 - "$@" <<'PY'
import struct, sys
path, shape, rows, cols = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
hlen = int(sys.argv[5]) if len(sys.argv) > 5 else 118
h = "{'descr': '<f4', 'fortran_order': False, 'shape': %s, }" % shape
h = h + " " * (hlen - 1 - len(h)) + "\n"
body = b"".join(struct.pack("<f", float(i % 7 + 1)) for i in range(rows * cols))
open(path, "wb").write(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(h)) + h.encode() + body)
PY
}

# every line of stdin parses as JSON
all_json() {
	python3 -c 'import json, sys
n = 0
for line in sys.stdin.buffer:
    json.loads(line.decode("utf-8")); n += 1
print(n)'
}

@test "an .npy of shape (0, N) inserts nothing and exits 0, whether its rows are aligned or not" {
	"$VZ" create c --dim 3 -q
	for hl in 118 117; do
		npy "$BATS_TEST_TMPDIR/e$hl.npy" '(0, 3)' 0 3 "$hl"
		run "$VZ" insert c "$BATS_TEST_TMPDIR/e$hl.npy"
		assert_equal "$status" 0
		assert_output --partial "0 inserted"
	done
	run "$VZ" info c --json
	assert_output --partial '"vectors":0'
	run "$VZ" verify c
	assert_equal "$status" 0
}

@test "an .npy shape with text after it is refused (65) and nothing is written" {
	"$VZ" create c --dim 3 -q
	npy "$BATS_TEST_TMPDIR/g.npy" '(4, 3)garbage' 4 3
	before=$(snapshot)
	run "$VZ" insert c "$BATS_TEST_TMPDIR/g.npy"
	assert_equal "$status" 65
	assert_output "vz insert: $BATS_TEST_TMPDIR/g.npy: bad shape (text after the closing parenthesis)"
	[ "$before" = "$(snapshot)" ]
	# the same rows with a clean shape go in
	npy "$BATS_TEST_TMPDIR/ok.npy" '(4, 3)' 4 3
	run "$VZ" insert c "$BATS_TEST_TMPDIR/ok.npy"
	assert_equal "$status" 0
	assert_output --partial "4 inserted"
}

@test "a CSV id with a NUL is refused (65) naming the line, not cut at the NUL" {
	"$VZ" create c --dim 3 -q
	printf 'a,1,2,3\nx\0y,1,2,3\n' > "$BATS_TEST_TMPDIR/n.csv"
	before=$(snapshot)
	run "$VZ" insert c "$BATS_TEST_TMPDIR/n.csv"
	assert_equal "$status" 65
	assert_output "vz insert: $BATS_TEST_TMPDIR/n.csv: line 2: byte 2: NUL byte"
	[ "$before" = "$(snapshot)" ]
	run "$VZ" get c x
	assert_equal "$status" 66
}

@test "invalid UTF-8 is refused (65, line and byte) on every input path, and nothing is written" {
	"$VZ" create c --dim 3 -q
	"$VZ" create t --dim 16 --embedding bm25 -q
	printf '{"id":"a","vector":[1,2,3]}\n' | "$VZ" insert c -q
	before=$(snapshot)
	# JSON lines: in an id, in a payload, in a text
	printf '{"id":"ok","vector":[1,2,3]}\n{"id":"b\xff","vector":[1,2,3]}\n' > "$BATS_TEST_TMPDIR/1.jsonl"
	run "$VZ" insert c "$BATS_TEST_TMPDIR/1.jsonl"
	assert_equal "$status" 65
	assert_output "vz insert: $BATS_TEST_TMPDIR/1.jsonl: line 2: byte 9: invalid UTF-8"
	printf '{"id":"b","vector":[1,2,3],"payload":{"k":"\xc3("}}\n' > "$BATS_TEST_TMPDIR/2.jsonl"
	run "$VZ" insert c "$BATS_TEST_TMPDIR/2.jsonl"
	assert_equal "$status" 65
	assert_output "vz insert: $BATS_TEST_TMPDIR/2.jsonl: line 1: byte 44: invalid UTF-8"
	# an overlong form and a UTF-16 surrogate are not UTF-8 either
	for bad in '\xc0\xaf' '\xed\xa0\x80' '\xf4\x90\x80\x80'; do
		printf "{\"id\":\"s$bad\",\"vector\":[1,2,3]}\n" > "$BATS_TEST_TMPDIR/3.jsonl"
		run "$VZ" insert c "$BATS_TEST_TMPDIR/3.jsonl"
		assert_equal "$status" 65
		assert_output "vz insert: $BATS_TEST_TMPDIR/3.jsonl: line 1: byte 9: invalid UTF-8"
	done
	# CSV
	printf 'id,a,b,c\n"q\xe2\x82",1,2,3\n' > "$BATS_TEST_TMPDIR/4.csv"
	run "$VZ" insert c "$BATS_TEST_TMPDIR/4.csv"
	assert_equal "$status" 65
	assert_output "vz insert: $BATS_TEST_TMPDIR/4.csv: line 2: byte 3: invalid UTF-8"
	# update, upsert and apply read the same way
	printf '{"id":"a","vector":[1,2,3],"payload":"\xfe"}\n' > "$BATS_TEST_TMPDIR/5.jsonl"
	run "$VZ" update c "$BATS_TEST_TMPDIR/5.jsonl"
	assert_equal "$status" 65
	assert_output --partial "line 1: byte 39: invalid UTF-8"
	run "$VZ" insert --upsert c "$BATS_TEST_TMPDIR/5.jsonl"
	assert_equal "$status" 65
	printf '{"op":"delete","id":"a"}\n{"op":"insert","id":"\x80","vector":[1,2,3]}\n' > "$BATS_TEST_TMPDIR/6.jsonl"
	run "$VZ" apply c "$BATS_TEST_TMPDIR/6.jsonl"
	assert_equal "$status" 65
	assert_output "vz apply: $BATS_TEST_TMPDIR/6.jsonl: line 2: byte 22: invalid UTF-8"
	# arguments: --id, --text, --payload
	run "$VZ" insert t --id $'n\xff' --text 'hello'
	assert_equal "$status" 65
	assert_output "vz insert: --id: byte 2: invalid UTF-8"
	run "$VZ" insert t --id n --text $'hel\xc3lo'
	assert_equal "$status" 65
	assert_output "vz insert: --text: byte 4: invalid UTF-8"
	run "$VZ" insert t --id n --text hello --payload $'"\xe2\x82"'
	assert_equal "$status" 65
	assert_output "vz insert: --payload: byte 2: invalid UTF-8"
	# load: a dump image with a bad line
	"$VZ" dump c -o "$BATS_TEST_TMPDIR/d.jsonl" -q 2>/dev/null || "$VZ" dump c -q > "$BATS_TEST_TMPDIR/d.jsonl"
	printf '{"id":"z\xff","vector":[1,2,3]}\n' >> "$BATS_TEST_TMPDIR/d.jsonl"
	run "$VZ" load c2 "$BATS_TEST_TMPDIR/d.jsonl"
	assert_equal "$status" 65
	assert_output "vz load: $BATS_TEST_TMPDIR/d.jsonl: line 3: byte 9: invalid UTF-8"
	[ "$before" = "$(snapshot)" ]
	run "$VZ" list --json
	assert_equal "$status" 0
	refute_output --partial '"c2"'
}

@test "every JSON line vz prints parses, with any valid Unicode in ids, payloads and texts" {
	"$VZ" create c --dim 3 -q
	"$VZ" create t --dim 16 --embedding bm25 -q
	# escapes that decode to control characters, a C1 control, astral and right-to-left text
	printf '%s\n' '{"id":"e\u00e9\u4e2d\ud83d\ude00","vector":[1,2,3],"payload":{"s":"a\u0000b\u001b[31m\u009b\u202e","n":[1,{"x":null}]}}' \
		'{"id":"q\"\\/","vector":[3,2,1],"payload":"\u2028\u2029"}' > "$BATS_TEST_TMPDIR/u.jsonl"
	"$VZ" insert c "$BATS_TEST_TMPDIR/u.jsonl" -q
	"$VZ" insert t --id $'\xc2\x9b1' --text $'caf\xc3\xa9 \xf0\x9f\x98\x80 \x1b]0;x\x07 tab\there' -q
	run bash -c "'$VZ' dump c -q | python3 -c 'import json,sys; print(sum(1 for l in sys.stdin.buffer if json.loads(l.decode()) is not None))'"
	assert_equal "$status" 0
	assert_output 3
	for cmd in "get c $(printf 'e\xc3\xa9\xe4\xb8\xad\xf0\x9f\x98\x80') --json --vector" "query c --vector [1,2,3] --json" \
		"query t --text tab --json" "get t $(printf '\xc2\x9b1') --json" "list --json" "info c --json" "verify --all --json" \
		"wal c --json" "dump t -q"; do
		out=$(eval "'$VZ' $cmd") || { echo "failed: $cmd"; false; }
		n=$(printf '%s\n' "$out" | all_json) || { echo "not JSON: $cmd: $out"; false; }
		[ "$n" -ge 1 ]
	done
	# names given by the user, not UTF-8, come back as U+FFFD in JSON (never as raw bytes)
	f=$BATS_TEST_TMPDIR/$'b\xff.tar.zst'
	"$VZ" backup c -o "$f" -q
	run bash -c "'$VZ' backup --verify '$f' --json | python3 -c 'import json,sys; print(json.loads(sys.stdin.buffer.read().decode())[\"backup\"][-10:])'"
	assert_equal "$status" 0
	assert_output $'b\ufffd.tar.zst'
	# the decoded payload of get --json is what was inserted, byte for byte
	run bash -c "'$VZ' get c 'q\"\\/' --json | python3 -c 'import json,sys; print(repr(json.loads(sys.stdin.read())[\"payload\"]))'"
	assert_output "'\\u2028\\u2029'"
}

@test "human output and messages escape control characters: query --text, get, query, wal, errors" {
	"$VZ" create t --dim 16 --embedding bm25 -q
	# an OSC title sequence and a bell in a stored text, a C1 CSI in an id
	"$VZ" insert t --id $'a\xc2\x9b2J' --text $'hello \x1b]0;pwned\x07 world' -q
	run bash -c "'$VZ' query t --text hello -k 1 | od -An -c | tr -s ' '"
	refute_output --partial '033'  # od shows a raw ESC as 033
	refute_output --partial '007'
	run "$VZ" query t --text hello -k 1
	assert_output --regexp $'^[0-9.]+\ta\\\\302\\\\2332J\thello \\\\033\\]0;pwned\\\\007 world$'
	run "$VZ" get t $'a\xc2\x9b2J'
	assert_output $'a\\302\\2332J\t{"text":"hello \\u001b]0;pwned\\u0007 world"}'
	run "$VZ" query t --vector "$(python3 -c 'print([0.25]*16)')"
	assert_output --partial $'a\\302\\2332J\t'
	run "$VZ" wal t
	assert_output --partial 'a\302\2332J'
	# an id given as an argument comes back in the error message escaped, not raw
	run "$VZ" get t $'x\x1b[2Jy'
	assert_equal "$status" 66
	assert_output --partial 'x\033[2Jy'
	[[ "$output" != *$'\x1b'* ]]
	# a path is data too
	run env VZ_DATA_DIR="$BATS_TEST_TMPDIR/"$'d\x1b[2Jd' "$VZ" info
	assert_line --index 0 "data directory: $BATS_TEST_TMPDIR/d\\033[2Jd"
	# JSON output escapes per JSON instead
	run "$VZ" query t --text hello -k 1 --json
	assert_output --partial '\u001b]0;pwned\u0007'
	[[ "$output" != *$'\x1b'* && "$output" != *$'\x07'* ]]
}

@test "load with a bad configuration says what is wrong once; errors in rows name the file's line" {
	printf '{"vz_dump":1,"config":{"dim":3,"metric":"cosinex"}}\n' > "$BATS_TEST_TMPDIR/m.jsonl"
	run "$VZ" load c "$BATS_TEST_TMPDIR/m.jsonl"
	assert_equal "$status" 65
	assert_output "vz load: $BATS_TEST_TMPDIR/m.jsonl: line 1: unknown metric \"cosinex\""
	printf '{"vz_dump":1,"config":{"dim":3}}\n' > "$BATS_TEST_TMPDIR/d.jsonl"
	run "$VZ" load c "$BATS_TEST_TMPDIR/d.jsonl"
	assert_equal "$status" 65
	assert_output "vz load: $BATS_TEST_TMPDIR/d.jsonl: line 1: field \"metric\" is missing or not a string"
	"$VZ" create src --dim 3 -q
	"$VZ" dump src -q > "$BATS_TEST_TMPDIR/r.jsonl"
	"$VZ" drop src --no-backup -q
	printf '{"id":"a","vector":[1,2,3]}\n{"id":"b","vector":[1,2]}\n' >> "$BATS_TEST_TMPDIR/r.jsonl"
	run "$VZ" load c "$BATS_TEST_TMPDIR/r.jsonl"
	assert_equal "$status" 65
	assert_output "vz load: $BATS_TEST_TMPDIR/r.jsonl: line 3: vector has dimension 2, expected 3"
	run "$VZ" list
	assert_output ""
}

@test "a backup manifest that lists a file twice is named in full" {
	"$VZ" create c --dim 3 -q
	echo '{"id":"a","vector":[1,2,3]}' | "$VZ" insert c -q
	"$VZ" backup c -o "$BATS_TEST_TMPDIR/b.tar.zst" -q
	x=$BATS_TEST_TMPDIR/x
	mkdir "$x" && tar --zstd -xf "$BATS_TEST_TMPDIR/b.tar.zst" -C "$x"
	python3 - "$x/vz-backup/manifest.json" <<'PY'
import json, sys
m = json.load(open(sys.argv[1]))
f = m["collections"][0]["files"]
w = [e for e in f if e["path"].endswith("wal.log")][0]
f.append(dict(w)); m["file_count"] += 1; m["total_size"] += w["size"]
json.dump(m, open(sys.argv[1], "w"), indent=1)
PY
	(cd "$x" && tar --zstd -cf "$BATS_TEST_TMPDIR/bad.tar.zst" vz-backup/manifest.json $(tar --zstd -tf "$BATS_TEST_TMPDIR/b.tar.zst" | tail -n +2))
	run "$VZ" backup --verify "$BATS_TEST_TMPDIR/bad.tar.zst"
	assert_equal "$status" 1
	assert_line --index 0 "vz-backup/manifest.json: lists dynamic/c/wal.log twice"
}

@test "drop of a workspace collection is refused (77) before a safety backup is written" {
	W="$BATS_TEST_TMPDIR/ws"
	mkdir -p "$W"
	cp -r "$BATS_TEST_DIRNAME/../fixtures/workspace/proj" "$W/proj"
	cp "$BATS_TEST_DIRNAME/../fixtures/workspace/simplified.yml" "$W/vectorize-workspace.yml"
	cd "$W"
	"$VZ" build -q >/dev/null
	before=$(snapshot)
	run "$VZ" drop proj/docs
	assert_equal "$status" 77
	assert_output "vz drop: proj/docs is a workspace collection and is read-only: remove it from $W/vectorize-workspace.yml and run 'vz build'"
	[ ! -e "$VZ_DATA_DIR/backups" ]
	[ "$before" = "$(snapshot)" ]
	run "$VZ" drop proj/docs --backup-dir "$BATS_TEST_TMPDIR/bk"
	assert_equal "$status" 77
	[ ! -e "$BATS_TEST_TMPDIR/bk" ]
	run "$VZ" verify proj/docs
	assert_equal "$status" 0
}

@test "a symlink above the data directory (or the data directory itself) works; one inside it is refused" {
	mkdir -p "$BATS_TEST_TMPDIR/real"
	ln -s "$BATS_TEST_TMPDIR/real" "$BATS_TEST_TMPDIR/link"
	export VZ_DATA_DIR="$BATS_TEST_TMPDIR/link/a/data"
	run "$VZ" create c --dim 3
	assert_equal "$status" 0
	assert_output "vz create: created c (dim 3, cosine)"
	echo '{"id":"a","vector":[1,2,3]}' | "$VZ" insert c -q
	[ -f "$BATS_TEST_TMPDIR/real/a/data/dynamic/c/metadata.json" ]
	run "$VZ" get c a
	assert_output "a" # no payload: the id alone, as query prints it
	# the data directory itself a symlink, as ~/.local/share/vz -> /big/disk/vz
	ln -s "$BATS_TEST_TMPDIR/real/a/data" "$BATS_TEST_TMPDIR/dd"
	export VZ_DATA_DIR="$BATS_TEST_TMPDIR/dd"
	run "$VZ" create d --dim 2
	assert_equal "$status" 0
	run "$VZ" list --json
	assert_line --index 0 --partial '"collection":"c"'
	assert_line --index 1 --partial '"collection":"d"'
	run "$VZ" verify --all
	assert_equal "$status" 0
	# inside it, a link is still never followed
	rm "$BATS_TEST_TMPDIR/real/a/data/dynamic/d/metadata.json"
	ln -s "$BATS_TEST_TMPDIR/real/a/data/dynamic/c/metadata.json" "$BATS_TEST_TMPDIR/real/a/data/dynamic/d/metadata.json"
	run "$VZ" info d
	assert_equal "$status" 77
	assert_output --partial "metadata.json: not a regular file (a symlink?)"
}

@test "a symlink under dynamic/ is reported and left out; list and backup --all go on with the others and exit 77" {
	"$VZ" create a --dim 2 -q
	"$VZ" create b --dim 2 -q
	echo '{"id":"x","vector":[1,2]}' | "$VZ" insert b -q
	mkdir -p "$BATS_TEST_TMPDIR/other"
	VZ_DATA_DIR="$BATS_TEST_TMPDIR/other" "$VZ" create o --dim 2 -q
	ln -s "$BATS_TEST_TMPDIR/other/dynamic/o" "$VZ_DATA_DIR/dynamic/evil"
	run "$VZ" list --json
	assert_equal "$status" 77
	assert_line --partial '"collection":"a"'
	assert_line --partial '"collection":"b"'
	assert_line "vz list: $VZ_DATA_DIR/dynamic/evil: is a symlink; refusing to use it as a collection"
	[ "${#lines[@]}" -eq 3 ]
	run "$VZ" backup --all -o "$BATS_TEST_TMPDIR/all.tar.zst"
	assert_equal "$status" 77
	assert_line "vz backup: $VZ_DATA_DIR/dynamic/evil: is a symlink; refusing to back it up"
	assert_line --partial "all.tar.zst: 2 collections"
	run "$VZ" backup --verify "$BATS_TEST_TMPDIR/all.tar.zst"
	assert_equal "$status" 0
	run tar --zstd -tf "$BATS_TEST_TMPDIR/all.tar.zst"
	assert_line dynamic/a/metadata.json
	assert_line dynamic/b/wal.log
	refute_output --partial evil
	# --dir too; named collections other than the link are not affected
	run "$VZ" backup --all --dir "$BATS_TEST_TMPDIR/bk"
	assert_equal "$status" 77
	[ "$(ls "$BATS_TEST_TMPDIR/bk" | wc -l)" -eq 1 ]
	run "$VZ" backup a b -o "$BATS_TEST_TMPDIR/ab.tar.zst"
	assert_equal "$status" 0
	run "$VZ" backup evil -o "$BATS_TEST_TMPDIR/e.tar.zst"
	assert_equal "$status" 77
	[ ! -e "$BATS_TEST_TMPDIR/e.tar.zst" ]
}

# A data directory this test's reader cannot write: as root (who may write anything), the data
# directory is put where another user can read it and $READER runs commands as nobody; else the
# tree is made read-only. Sets VZ_DATA_DIR and OUT (a directory the reader can write).
readonly_setup() {
	if [ "$(id -u)" -eq 0 ]; then
		command -v setpriv >/dev/null || skip "setpriv is not installed"
		RO=$(mktemp -d /tmp/vz-ro.XXXXXX)
		chmod 755 "$RO"
		export VZ_DATA_DIR="$RO/data"
		OUT="$RO/out"
		READER="setpriv --reuid 65534 --regid 65534 --clear-groups"
	else
		OUT="$BATS_TEST_TMPDIR/out"
		READER=""
	fi
	mkdir -m 777 "$OUT"
}
readonly_now() { [ -n "$READER" ] || chmod -R a-w "$VZ_DATA_DIR"; }
teardown() {
	[ -z "${RO:-}" ] || rm -rf "$RO"
	[ ! -d "$VZ_DATA_DIR" ] || chmod -R u+w "$VZ_DATA_DIR"
}

@test "a read-only data directory: recover says it cannot write (77), nothing is damaged; backup -o elsewhere works" {
	readonly_setup
	"$VZ" create c --dim 3 -q
	printf '{"id":"a","vector":[1,2,3],"payload":{"k":1}}\n' | "$VZ" insert c -q
	printf 'xxxx' >> "$VZ_DATA_DIR/dynamic/c/wal.log" # a torn tail: something for recover to do
	"$VZ" create d --dim 3 -q
	printf '{"id":"a","vector":[1,2,3],"payload":{"k":2}}\n' | "$VZ" insert d -q
	readonly_now
	before=$(snapshot)
	run $READER "$VZ" recover c
	assert_equal "$status" 77
	assert_output "vz recover: $VZ_DATA_DIR/dynamic/c: cannot write: permission denied (recover needs write access; nothing was changed, use --dry-run to see what it would do)"
	refute_output --partial "restore from a backup"
	run $READER "$VZ" recover c --dry-run
	assert_equal "$status" 0
	assert_line --index 0 "vz recover: c: (dry run) 2 transactions replayed, 0 dropped, 4 WAL bytes dropped"
	# reading needs no write access: get, verify, and a backup written elsewhere
	run $READER "$VZ" get c a
	assert_output $'a\t{"k":1}'
	run $READER "$VZ" backup d -o "$OUT/d.tar.zst"
	assert_equal "$status" 0
	assert_output --partial "$OUT/d.tar.zst: 1 collection, 2 files"
	run $READER "$VZ" backup --all --dir "$OUT/dir"
	assert_equal "$status" 0
	run bash -c "$READER '$VZ' backup d -o - > '$OUT/s.tar.zst'"
	assert_equal "$status" 0
	[ "$before" = "$(snapshot)" ]
	[ -z "$(find "$VZ_DATA_DIR" -name '.vztmp*')" ]
	[ -z "$(find "$OUT" -name '.vztmp*')" ]
	# the backups verify and hold the collection as it is
	[ "$(ls "$OUT/dir" | wc -l)" -eq 1 ]
	for f in "$OUT/d.tar.zst" "$OUT/s.tar.zst"; do
		run "$VZ" backup --verify "$f"
		assert_equal "$status" 0
	done
	"$VZ" restore "$OUT/d.tar.zst" --data-dir "$BATS_TEST_TMPDIR/back" -q
	run "$VZ" get d a --data-dir "$BATS_TEST_TMPDIR/back"
	assert_output $'a\t{"k":2}'
	[ -s "$OUT/s.tar.zst" ]
}

@test "update and upsert keep the payload when none is given, replace it when one is, clear it with null; the pages say so" {
	"$VZ" create c --dim 2 -q
	printf '%s\n' '{"id":"a","vector":[1,0],"payload":{"k":1}}' '{"id":"b","vector":[1,0],"payload":{"k":2}}' \
		'{"id":"c","vector":[1,0],"payload":{"k":3}}' '{"id":"d","vector":[1,0],"payload":{"k":4}}' | "$VZ" insert c -q
	echo '{"id":"a","vector":[0,1]}' | "$VZ" update c -q
	echo '{"id":"b","vector":[0,1],"payload":null}' | "$VZ" update c -q
	echo '{"id":"c","vector":[0,1]}' | "$VZ" insert --upsert c -q
	printf '%s\n' '{"op":"update","id":"d","vector":[0,1]}' '{"op":"upsert","id":"e","vector":[0,1]}' | "$VZ" apply c -q
	echo '{"id":"e","vector":[1,1],"payload":[5]}' | "$VZ" update c -q
	run "$VZ" get c a b c d e --json --vector
	assert_output '{"id":"a","payload":{"k":1},"vector":[0,1]}
{"id":"b","payload":null,"vector":[0,1]}
{"id":"c","payload":{"k":3},"vector":[0,1]}
{"id":"d","payload":{"k":4},"vector":[0,1]}
{"id":"e","payload":[5],"vector":[0.70710677,0.70710677]}'
	# and after a checkpoint and a recover, the same
	"$VZ" checkpoint c -q
	run "$VZ" get c a b --json
	assert_output '{"id":"a","payload":{"k":1}}
{"id":"b","payload":null}'
	grep -q 'keeps the payload the id had' "$ROOT/man/vz-update.1"
	grep -q 'kept when the line has none' "$ROOT/man/vz-insert.1"
	grep -q 'keeps the payload the id had' "$ROOT/man/vz-apply.1"
	run "$VZ" update --help
	assert_output --partial '"payload":null clears it'
}
