#!/usr/bin/env bats
# Every input format, and every kind of bad input refused whole: the right exit code, a message
# naming the file's line or row, and the collection byte-for-byte unchanged.
load helper

setup() {
	"$VZ" create c --dim 3 --metric euclidean -q
	echo '{"id":"keep","vector":[1,1,1]}' | "$VZ" insert c - -q
}

# refuse FILE EXIT TEXT...: the insert fails with EXIT, the message has every TEXT, nothing changes
refuse() {
	local file=$1 want=$2; shift 2
	local before; before=$(snapshot)
	run "$VZ" insert c "$file"
	assert_equal "$status" "$want"
	for t in "$@"; do assert_output --partial "$t"; done
	[ "$(snapshot)" = "$before" ] || fail "the refused batch changed files"
}

@test "JSON lines: wrong dimension, NaN, infinity, malformed, oversized id, unknown key" {
	f=$BATS_TEST_TMPDIR/in.jsonl
	printf '%s\n' '{"id":"a","vector":[1,2,3]}' '{"id":"b","vector":[1,2]}' > "$f"; refuse "$f" 65 "in.jsonl: line 2" "dimension 2, expected 3"
	printf '%s\n' '{"id":"a","vector":[1,2,3]}' '' '{"id":"b","vector":[1,NaN,3]}' > "$f"; refuse "$f" 65 "line 3"
	printf '%s\n' '{"id":"a","vector":[1,2,1e39]}' > "$f"; refuse "$f" 65 "line 1" "not a finite float32"
	printf '%s\n' '{"id":"a","vector":[1,2,3]' > "$f"; refuse "$f" 65 "line 1"
	printf '{"id":"%s","vector":[1,2,3]}\n' "$(head -c 256 /dev/zero | tr '\0' x)" > "$f"; refuse "$f" 65 "line 1" "id of 256 bytes"
	printf '%s\n' '{"id":"a","vectr":[1,2,3]}' > "$f"; refuse "$f" 65 'unknown key "vectr"'
	printf '%s\n' '{"id":"a","vector":[1,2,3],"id":"b"}' > "$f"; refuse "$f" 65 'line 1: key "id" given twice'
	printf '%s\n' '{"vector":[1,2,3]}' > "$f"; refuse "$f" 65 'no "id"'
	printf '%s\n' '{"id":"a","vector":[]}' > "$f"; refuse "$f" 65 "empty vector"
	printf '%s\n' '{"id":"a","vector":[1,2,3]}' '{"id":"a","vector":[1,2,3]}' > "$f"; refuse "$f" 65 "line 2" "duplicate id 'a'"
	printf '%s\n' '{"id":"a","vector":[1,2,3],"payload":{"x":[1,}}' > "$f"; refuse "$f" 65 "line 1"
	printf '%s\n' '{"id":"a\u0001","vector":[1,2,3]}' > "$f"; refuse "$f" 65 "control character"
	printf '%s\n' '{"id":"a","vector":[0x10,2,3]}' > "$f"; refuse "$f" 65 "line 1"
}

@test "JSON lines: payloads are kept byte for byte, unicode escapes in ids decoded" {
	printf '%s\n' '{"payload": {"b" : [1, 2.50, "\u00e9"],  "a":null} ,"id":"caf\u00e9","vector":[1,2,3]}' | "$VZ" insert c - -q
	run "$VZ" get c café --json
	assert_output '{"id":"café","payload":{"b" : [1, 2.50, "\u00e9"],  "a":null}}'
}

@test ".fvecs: rows become ids from --id-base; bad files refused" {
	python3 -c '
import struct,sys
open(sys.argv[1],"wb").write(b"".join(struct.pack("<i3f",3,i,i+1,i+2) for i in range(5)))' "$BATS_TEST_TMPDIR/a.fvecs"
	run "$VZ" insert c "$BATS_TEST_TMPDIR/a.fvecs" --id-base 10 --json
	assert_success
	assert_output --partial '"inserted":5'
	run "$VZ" get c 14 --vector --json
	assert_output '{"id":"14","payload":null,"vector":[4,5,6]}'
	f=$BATS_TEST_TMPDIR/bad.fvecs
	head -c 30 "$BATS_TEST_TMPDIR/a.fvecs" > "$f"; refuse "$f" 65 "row 2 is cut short"
	python3 -c 'import struct,sys; open(sys.argv[1],"wb").write(struct.pack("<i3f",3,1,2,3)+struct.pack("<i2f",2,1,2)+struct.pack("<i",0))' "$f"; refuse "$f" 65
	python3 -c 'import struct,sys; open(sys.argv[1],"wb").write(struct.pack("<i3f",3,1,float("nan"),3))' "$f"; refuse "$f" 65 "row 1" "NaN"
	python3 -c 'import struct,sys; open(sys.argv[1],"wb").write(struct.pack("<i4f",4,1,2,3,4))' "$f"; refuse "$f" 65 "dimension 4"
	python3 -c 'import struct,sys; open(sys.argv[1],"wb").write(struct.pack("<i",2000000000)+b"\0"*8)' "$f"; refuse "$f" 65 "out of range"
}

@test ".npy: float32 2-D C order accepted; headers that lie refused" {
	hdr() { python3 - "$@" <<'PY'
import struct, sys
path, descr, fortran, shape, nbytes = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5])
h = "{'descr': '%s', 'fortran_order': %s, 'shape': %s, }" % (descr, fortran, shape)
h += " " * ((64 - (10 + len(h) + 1) % 64) % 64) + "\n"
data = b"".join(struct.pack("<f", float(i)) for i in range(nbytes // 4))
open(path, "wb").write(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(h)) + h.encode() + data)
PY
	}
	f=$BATS_TEST_TMPDIR/a.npy
	hdr "$f" '<f4' False '(4, 3)' 48
	run "$VZ" insert c "$f" --json
	assert_success
	assert_output --partial '"inserted":4'
	run "$VZ" get c 3 --vector --json
	assert_output '{"id":"3","payload":null,"vector":[9,10,11]}'
	hdr "$f" '<f4' False '(5, 3)' 48; refuse "$f" 65 "header says 5 x 3"
	hdr "$f" '<f4' False '(1000000000000, 3)' 48; refuse "$f" 65 "header says"
	hdr "$f" '<f8' False '(4, 3)' 96; refuse "$f" 65 "float32"
	hdr "$f" '<f4' True '(4, 3)' 48; refuse "$f" 65 "Fortran order"
	hdr "$f" '<f4' False '(12,)' 48; refuse "$f" 65 "2-D"
	printf 'NUMPY' > "$f"; refuse "$f" 65 "not a .npy file"
}

@test "CSV: with ids, without ids, a header row; bad values refused" {
	printf 'id,x,y,z\na,1,2,3\n"b,2",4,5,6\n' > "$BATS_TEST_TMPDIR/a.csv"
	run "$VZ" insert c "$BATS_TEST_TMPDIR/a.csv" --json
	assert_output --partial '"inserted":2'
	run "$VZ" get c 'b,2' --vector --json
	assert_output '{"id":"b,2","payload":null,"vector":[4,5,6]}'
	printf '7,8,9\n1,2,3\n' > "$BATS_TEST_TMPDIR/n.csv"
	run "$VZ" insert c "$BATS_TEST_TMPDIR/n.csv" --id-base 100 --json
	assert_output --partial '"inserted":2'
	run "$VZ" get c 101 --vector --json
	assert_output '{"id":"101","payload":null,"vector":[1,2,3]}'
	f=$BATS_TEST_TMPDIR/bad.csv
	printf 'q,1,2,3\nr,1,x,3\n' > "$f"; refuse "$f" 65 "line 2" "not a finite number"
	printf 's,1,2,3\nt,1,2\n' > "$f"; refuse "$f" 65 "line 2" "dimension 2"
	printf 'u,1,2,nan\n' > "$f"; refuse "$f" 65 "line 1"
}

@test "a missing input file is 66; an unknown format is 64" {
	run "$VZ" insert c "$BATS_TEST_TMPDIR/nope.jsonl"
	assert_equal "$status" 66
	run "$VZ" insert c - --format parquet < /dev/null
	assert_equal "$status" 64
}

@test "query --vector refuses anything but a JSON array of finite numbers" {
	for bad in '' '[' '[1,2' '1,2,3' '[1,2,"3"]' '[1,2,3] x' '[1,2,inf]' '[]' '{"a":1}'; do
		run "$VZ" query c --vector "$bad" -k 1
		assert_equal "$status" 65
	done
	run "$VZ" query c --vector ' [1, 1, 1] ' -k 1
	assert_success
	assert_output --regexp $'^0\tkeep'
}

@test "query --batch streams one line per query from fvecs, npy and JSON lines" {
	printf '%s\n' '{"id":"q0","vector":[1,1,1]}' '{"id":"q1","vector":[5,5,5]}' > "$BATS_TEST_TMPDIR/q.jsonl"
	echo '{"id":"far","vector":[5,5,5]}' | "$VZ" insert c - -q
	run "$VZ" query c --batch "$BATS_TEST_TMPDIR/q.jsonl" -k 1 --json
	assert_success
	assert_line --index 0 '{"query":0,"id":"q0","results":[{"id":"keep","score":0}]}'
	assert_line --index 1 '{"query":1,"id":"q1","results":[{"id":"far","score":0}]}'
	python3 -c 'import struct,sys; open(sys.argv[1],"wb").write(struct.pack("<i3f",3,5,5,5))' "$BATS_TEST_TMPDIR/q.fvecs"
	run "$VZ" query c --batch "$BATS_TEST_TMPDIR/q.fvecs" -k 2
	assert_output $'0\t0\tfar\n0\t6.928203\tkeep'
}

@test ".zst input opens libzstd when it is read: a libzstd.so.1 without its functions is 71 naming it; a query never opens it" {
	printf '%s\n' '{"id":"z","vector":[2,2,2]}' | zstd -q -o "$BATS_TEST_TMPDIR/rows.jsonl.zst"
	"$VZ" insert c "$BATS_TEST_TMPDIR/rows.jsonl.zst" -q
	run "$VZ" get c z
	assert_success
	# a library of that name first on the loader's path, with none of libzstd's functions
	mkdir "$BATS_TEST_TMPDIR/lib"
	echo 'int vz_not_zstd;' > "$BATS_TEST_TMPDIR/empty.c"
	cc -shared -fPIC -o "$BATS_TEST_TMPDIR/lib/libzstd.so.1" "$BATS_TEST_TMPDIR/empty.c"
	printf '%s\n' '{"id":"y","vector":[3,3,3]}' | zstd -q -o "$BATS_TEST_TMPDIR/more.jsonl.zst"
	before=$(snapshot)
	LD_LIBRARY_PATH=$BATS_TEST_TMPDIR/lib run "$VZ" insert c "$BATS_TEST_TMPDIR/more.jsonl.zst"
	assert_equal "$status" 71
	assert_output --partial "more.jsonl.zst: zstd needs libzstd (Debian package libzstd1): libzstd.so.1 has no ZSTD_"
	[ "$(snapshot)" = "$before" ] || fail "the refused insert changed files"
	LD_LIBRARY_PATH=$BATS_TEST_TMPDIR/lib run "$VZ" query c --batch "$BATS_TEST_TMPDIR/more.jsonl.zst" -k 1
	assert_equal "$status" 71
	assert_output --partial "libzstd.so.1 has no ZSTD_"
	LD_LIBRARY_PATH=$BATS_TEST_TMPDIR/lib run "$VZ" backup c -o "$BATS_TEST_TMPDIR/b.tar.zst"
	assert_equal "$status" 71
	assert_output --partial "libzstd.so.1 has no ZSTD_"
	# a one-shot query and an uncompressed insert do not need it
	LD_LIBRARY_PATH=$BATS_TEST_TMPDIR/lib run "$VZ" query c --vector '[2,2,2]' -k 1
	assert_success
	assert_output --regexp $'^0\tz'
	echo '{"id":"x","vector":[4,4,4]}' | LD_LIBRARY_PATH=$BATS_TEST_TMPDIR/lib "$VZ" insert c - -q
	# with the real one, the same file goes in
	"$VZ" insert c "$BATS_TEST_TMPDIR/more.jsonl.zst" -q
	run "$VZ" query c --vector '[3,3,3]' -k 1
	assert_output --regexp $'^0\ty'
}
