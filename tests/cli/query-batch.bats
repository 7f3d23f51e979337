#!/usr/bin/env bats
# `vz query --batch` run by the library's batch call: every --threads prints what one query at a
# time prints, in input order, ids of any bytes escaped as a single query escapes them, and a
# batch with a bad query or a damaged index fails with the right exit code.
load helper

setup() {
	"$VZ" create c --dim 8 --metric euclidean -q
	jsonl 2000 8 1 > "$BATS_TEST_TMPDIR/base.jsonl"
	"$VZ" insert c "$BATS_TEST_TMPDIR/base.jsonl" --bulk -q
	# 1200 queries: a long batch, which loads the index first
	jsonl 1200 8 7 q > "$BATS_TEST_TMPDIR/q.jsonl"
}

@test "query --batch prints the same lines in input order whatever --threads" {
	# one query at a time, as the reference
	python3 -c '
import json, sys
for l in open(sys.argv[1]): print(json.dumps(json.loads(l)["vector"]))' "$BATS_TEST_TMPDIR/q.jsonl" | head -n 40 > "$BATS_TEST_TMPDIR/v40"
	while read -r v; do
		"$VZ" query c --vector "$v" -k 5 --ef 40 | cut -f2
	done < "$BATS_TEST_TMPDIR/v40" > "$BATS_TEST_TMPDIR/want40"
	"$VZ" query c --batch "$BATS_TEST_TMPDIR/q.jsonl" -k 5 --ef 40 --threads 1 > "$BATS_TEST_TMPDIR/t1"
	assert_equal "$(wc -l < "$BATS_TEST_TMPDIR/t1")" 6000
	assert_equal "$(head -n 200 "$BATS_TEST_TMPDIR/t1" | cut -f3)" "$(cat "$BATS_TEST_TMPDIR/want40")"
	assert_equal "$(cut -f1 "$BATS_TEST_TMPDIR/t1" | uniq | paste -sd' ')" "$(seq 0 1199 | sed 's/^/q/' | paste -sd' ')"
	for t in 2 3 16; do
		"$VZ" query c --batch "$BATS_TEST_TMPDIR/q.jsonl" -k 5 --ef 40 --threads "$t" > "$BATS_TEST_TMPDIR/t$t"
		cmp "$BATS_TEST_TMPDIR/t1" "$BATS_TEST_TMPDIR/t$t"
	done
	"$VZ" query c --batch "$BATS_TEST_TMPDIR/q.jsonl" -k 5 --ef 40 --json --threads 1 > "$BATS_TEST_TMPDIR/j1"
	"$VZ" query c --batch "$BATS_TEST_TMPDIR/q.jsonl" -k 5 --ef 40 --json > "$BATS_TEST_TMPDIR/j2"
	cmp "$BATS_TEST_TMPDIR/j1" "$BATS_TEST_TMPDIR/j2"
	python3 -c '
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
assert [r["query"] for r in rows] == list(range(1200)), "order"
assert all(len(r["results"]) == 5 for r in rows), "five results each"' "$BATS_TEST_TMPDIR/j1"
	run "$VZ" query c --batch "$BATS_TEST_TMPDIR/q.jsonl" --threads 0
	assert_equal "$status" 64
}

@test "query --batch escapes ids as a single query does, text and JSON" {
	printf '%s\n' '{"id":"sp ace","vector":[0,0,0,0,0,0,0,0]}' '{"id":"quo\"te\\back","vector":[0,0,0,0,0,0,0,0.001]}' \
		'{"id":"ünï","vector":[0,0,0,0,0,0,0,0.002]}' | "$VZ" insert c - -q
	printf '%s\n' '{"id":"q","vector":[0,0,0,0,0,0,0,0]}' > "$BATS_TEST_TMPDIR/z.jsonl"
	run "$VZ" query c --batch "$BATS_TEST_TMPDIR/z.jsonl" -k 3
	assert_success
	assert_output $'q\t0\tsp ace\nq\t0.001\tquo"te\\back\nq\t0.002\tünï'
	run "$VZ" query c --batch "$BATS_TEST_TMPDIR/z.jsonl" -k 3 --json
	assert_success
	assert_output '{"query":0,"id":"q","results":[{"id":"sp ace","score":0},{"id":"quo\"te\\back","score":0.001},{"id":"ünï","score":0.002}]}'
}

@test "query --batch: a bad query, a wrong dimension and a damaged index fail with their codes" {
	"$VZ" create cos --dim 3 --metric cosine -q
	printf '%s\n' '{"id":"a","vector":[1,0,0]}' '{"id":"b","vector":[0,1,0]}' | "$VZ" insert cos - -q
	printf '%s\n' '{"id":"q0","vector":[1,0,0]}' '{"id":"q1","vector":[0,1,0]}' '{"id":"q2","vector":[0,0,0]}' \
		'{"id":"q3","vector":[1,1,0]}' > "$BATS_TEST_TMPDIR/cq.jsonl"
	run --separate-stderr "$VZ" query cos --batch "$BATS_TEST_TMPDIR/cq.jsonl" -k 1 --threads 2
	assert_equal "$status" 65
	assert_equal "$output" $'q0\t1\ta\nq1\t1\tb'
	[[ $stderr == *"all zeros"* ]] || fail "stderr: $stderr"
	run "$VZ" query c --batch "$BATS_TEST_TMPDIR/cq.jsonl" -k 1
	assert_equal "$status" 65
	# a flipped byte in the layer-0 links: verify says so, a batch still ends (answers or 65)
	f="$VZ_DATA_DIR/dynamic/c/index.hnsw"
	python3 -c 'import sys; p=sys.argv[1]; b=bytearray(open(p,"rb").read()); b[300]^=0xff; open(p,"wb").write(b)' "$f"
	run "$VZ" verify c
	assert_equal "$status" 1
	run "$VZ" query c --batch "$BATS_TEST_TMPDIR/q.jsonl" -k 5 --threads 2
	[ "$status" -eq 0 ] || [ "$status" -eq 65 ] || fail "status $status"
}

@test "query: single queries and a short batch at a small ef print what a loaded batch prints" {
	# ef 2 visits some 32 of the 2000 rows, under a 32nd: the one-shot path (the mapping,
	# prefaulted, or a pread per node on a larger collection); 1200 queries load the index
	python3 -c '
import json, sys
for l in open(sys.argv[1]).readlines()[:20]: print(json.dumps(json.loads(l)["vector"]))' "$BATS_TEST_TMPDIR/q.jsonl" > "$BATS_TEST_TMPDIR/v20"
	while read -r v; do
		"$VZ" query c --vector "$v" -k 5 --ef 2 | cut -f2
	done < "$BATS_TEST_TMPDIR/v20" > "$BATS_TEST_TMPDIR/want20"
	"$VZ" query c --batch "$BATS_TEST_TMPDIR/q.jsonl" -k 5 --ef 2 --threads 1 > "$BATS_TEST_TMPDIR/b"
	assert_equal "$(head -n 100 "$BATS_TEST_TMPDIR/b" | cut -f3)" "$(cat "$BATS_TEST_TMPDIR/want20")"
	# and a short batch of them prints the same lines as the long one
	head -n 20 "$BATS_TEST_TMPDIR/q.jsonl" > "$BATS_TEST_TMPDIR/q20.jsonl"
	"$VZ" query c --batch "$BATS_TEST_TMPDIR/q20.jsonl" -k 5 --ef 2 > "$BATS_TEST_TMPDIR/s"
	assert_equal "$(cat "$BATS_TEST_TMPDIR/s")" "$(head -n 100 "$BATS_TEST_TMPDIR/b")"
}
