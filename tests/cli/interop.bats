#!/usr/bin/env bats
# The LanceDB round trip, against the real engine (@lancedb/lancedb, pinned in
# tests/interop/package.json, installed by scripts/install-deps.sh): vz export --to lancedb,
# LanceDB's import, every row checked and the top 10 of 100 queries compared with vz's exact
# search, then LanceDB's rows back into vz load: a byte-identical vz dump.
load helper

setup() {
	NODE_DIR=$ROOT/tests/interop
	[ -d "$NODE_DIR/node_modules/@lancedb/lancedb" ] ||
		fail "@lancedb/lancedb is not installed in tests/interop (run scripts/install-deps.sh)"
}

@test "lancedb: 3000 vectors with payloads go in intact, search agrees, and come back byte-identical" {
	cd "$BATS_TEST_TMPDIR"
	# ids with quotes, backslashes and unicode; a payload on most rows, none on every 7th
	python3 - <<'PY' > in.jsonl
import json, random
r = random.Random(20)
for i in range(3000):
    row = {"id": ["v%d" % i, 'q"%d' % i, "b\\%d" % i, "é%d☃" % i][i % 4], "vector": [round(r.gauss(0, 1), 6) for _ in range(32)]}
    if i % 7:
        row["payload"] = {"i": i, "tag": r.choice(["a", "b,c", 'd"e', "ü"]), "x": [1.5, None, True]}
    print(json.dumps(row, ensure_ascii=i % 2 == 0))
PY
	python3 -c '
import json, random
r = random.Random(7)
for i in range(100): print(json.dumps({"id": "q%d" % i, "vector": [round(r.gauss(0, 1), 6) for _ in range(32)]}))' > queries.jsonl
	"$VZ" create c --dim 32 --metric cosine --m 48 -q  # a dense graph: no node unreachable
	"$VZ" insert c in.jsonl --threads 1 -q  # reproducible
	"$VZ" export c --to lancedb -o c.lancedb -q
	node "$NODE_DIR/lancedb.mjs" import c.lancedb lance c 2>/dev/null
	# vz's exact search: the candidate list holds the whole collection
	"$VZ" query c --batch queries.jsonl --json -k 10 --ef 3000 > vz-top10.jsonl
	run node "$NODE_DIR/lancedb.mjs" check c.lancedb lance c queries.jsonl vz-top10.jsonl
	assert_success
	assert_output --partial "3000 rows intact, 100 of 100 queries with the same top 10"
	node "$NODE_DIR/lancedb.mjs" export lance c back 2>/dev/null
	"$VZ" load c2 back -q
	"$VZ" dump c -q > c.dump
	"$VZ" dump c2 -q > c2.dump
	[ "$(wc -l < c.dump)" -eq 3001 ]
	cmp c.dump c2.dump
}

@test "lancedb: an empty collection and one without payloads make the round trip" {
	cd "$BATS_TEST_TMPDIR"
	"$VZ" create e --dim 4 --metric dot_product -q
	"$VZ" export e --to lancedb -o e.lancedb -q
	node "$NODE_DIR/lancedb.mjs" import e.lancedb lance e 2>/dev/null
	node "$NODE_DIR/lancedb.mjs" export lance e e.back 2>/dev/null
	assert_equal "$(cat e.back/table.json)" '{"name":"e","vector_column":"vector","dim":4,"distance_type":"dot"}'
	"$VZ" load e2 e.back -q
	cmp <("$VZ" dump e -q) <("$VZ" dump e2 -q)
	"$VZ" create n --dim 2 --metric euclidean -q
	printf '%s\n' '{"id":"a","vector":[1,2]}' '{"id":"b","vector":[-0.5,3.25]}' | "$VZ" insert n - -q
	"$VZ" export n --to lancedb -o n.lancedb -q
	node "$NODE_DIR/lancedb.mjs" import n.lancedb lance n 2>/dev/null
	node "$NODE_DIR/lancedb.mjs" export lance n n.back 2>/dev/null
	grep -q '"distance_type":"l2"' n.back/table.json
	"$VZ" load n2 n.back -q
	cmp <("$VZ" dump n -q) <("$VZ" dump n2 -q)
}

@test "lancedb: the check itself fails on a changed vector or payload" {
	cd "$BATS_TEST_TMPDIR"
	"$VZ" create n --dim 2 --metric euclidean -q
	printf '%s\n' '{"id":"a","vector":[1,2],"payload":{"k":1}}' '{"id":"b","vector":[-0.5,3.25]}' | "$VZ" insert n - -q
	"$VZ" export n --to lancedb -o n.lancedb -q
	node "$NODE_DIR/lancedb.mjs" import n.lancedb lance n 2>/dev/null
	: > none.jsonl
	run node "$NODE_DIR/lancedb.mjs" check n.lancedb lance n none.jsonl none.jsonl
	assert_success
	sed -i 's/3.25/3.2500002/' n.lancedb/rows.jsonl
	run node "$NODE_DIR/lancedb.mjs" check n.lancedb lance n none.jsonl none.jsonl
	assert_failure
	assert_output --partial 'id "b": vector differs from the export'
	sed -i 's/3.2500002/3.25/; s/{\\"k\\":1}/{\\"k\\":2}/' n.lancedb/rows.jsonl
	run node "$NODE_DIR/lancedb.mjs" check n.lancedb lance n none.jsonl none.jsonl
	assert_failure
	assert_output --partial 'id "a": payload'
}
