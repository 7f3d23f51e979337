#!/usr/bin/env bats
# A float collection of 65,536 rows or more keeps SQ8 codes of its rows in index.hnsw for its
# searches (flags bit 1, vz-format(5)): answers carry the exact float distances; a damaged code
# is found by verify, naming the file; queries still answer after it; recover rebuilds the codes.
load helper

# flags FILE: the header's flags word (offset 12)
flags() { od -An -t u4 -j 12 -N 4 "$1" | tr -d ' '; }

# check_answers BASE QUERIES TSV: every answer's distance is the float32 euclidean distance of
# its row (to 1e-6 of it, as printed), and each query's first answer is its nearest row
check_answers() {
	python3 - "$@" <<'PY'
import struct, sys
import array
def read(path):
    raw = open(path, "rb").read(); d = struct.unpack_from("<i", raw)[0]; out = []
    for o in range(0, len(raw), 4 + 4 * d): out.append(array.array("f", raw[o + 4:o + 4 + 4 * d]))
    return out
base, qs = read(sys.argv[1]), read(sys.argv[2])
seen = {}
for line in open(sys.argv[3]):
    q, dist, row = line.split("\t"); q, dist, row = int(q), float(dist), int(row)
    exact = sum((a - b) ** 2 for a, b in zip(base[row], qs[q])) ** 0.5
    assert abs(dist - exact) <= 1e-6 * max(1, exact), (q, row, dist, exact)
    if q not in seen:
        seen[q] = row
        best = min(range(len(base)), key=lambda r: sum((a - b) ** 2 for a, b in zip(base[r], qs[q])))
        assert row == best, (q, row, best)
print(len(seen))
PY
}

setup() {
	fvecs "$BATS_TEST_TMPDIR/base.fvecs" 65536 8 7
	fvecs "$BATS_TEST_TMPDIR/q.fvecs" 5 8 8
	"$VZ" create c --dim 8 --metric euclidean --m 8 --ef-construction 32 -q
	"$VZ" insert c "$BATS_TEST_TMPDIR/base.fvecs" --bulk --threads 2 -q
	IDX=$VZ_DATA_DIR/dynamic/c/index.hnsw
}

@test "float codes: kept in index.hnsw past 64Ki rows, answers at exact float distances" {
	[ "$(flags "$IDX")" = 2 ]
	run "$VZ" verify c
	assert_success
	run "$VZ" query c --batch "$BATS_TEST_TMPDIR/q.fvecs" -k 10 --ef 64 --threads 1
	assert_success
	printf '%s\n' "$output" >"$BATS_TEST_TMPDIR/out.tsv"
	[ "$(wc -l <"$BATS_TEST_TMPDIR/out.tsv")" = 50 ]
	run check_answers "$BATS_TEST_TMPDIR/base.fvecs" "$BATS_TEST_TMPDIR/q.fvecs" "$BATS_TEST_TMPDIR/out.tsv"
	assert_success
	assert_output 5
}

@test "float codes: a flipped code byte is found by verify; queries answer; recover rebuilds the codes" {
	# the byte of row 1000's codes, past the ranges (dim minima and steps)
	at=$(( $(od -An -t u8 -j 136 -N 8 "$IDX" | tr -d ' ') + 8 * 8 + 1000 * 8 + 3 ))
	python3 -c "import sys; f = open(sys.argv[1], 'r+b'); f.seek(int(sys.argv[2])); b = f.read(1); f.seek(int(sys.argv[2])); f.write(bytes([b[0] ^ 0x40]))" "$IDX" "$at"
	run "$VZ" verify c
	assert_failure 1
	assert_output --partial "index.hnsw"
	assert_output --partial "checksum"
	run "$VZ" query c --batch "$BATS_TEST_TMPDIR/q.fvecs" -k 10 --ef 64 --threads 1
	assert_success
	printf '%s\n' "$output" >"$BATS_TEST_TMPDIR/out.tsv"
	run check_answers "$BATS_TEST_TMPDIR/base.fvecs" "$BATS_TEST_TMPDIR/q.fvecs" "$BATS_TEST_TMPDIR/out.tsv"
	assert_success
	run "$VZ" recover c
	assert_success
	run "$VZ" verify c
	assert_success
	[ "$(flags "$IDX")" = 2 ]
	run "$VZ" query c --batch "$BATS_TEST_TMPDIR/q.fvecs" -k 10 --ef 64 --threads 1
	assert_success
	printf '%s\n' "$output" >"$BATS_TEST_TMPDIR/out.tsv"
	run check_answers "$BATS_TEST_TMPDIR/base.fvecs" "$BATS_TEST_TMPDIR/q.fvecs" "$BATS_TEST_TMPDIR/out.tsv"
	assert_success
	assert_output 5
}
