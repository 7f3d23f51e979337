#!/usr/bin/env bats
# vz export: every form read back by vz load to a byte-identical dump; each engine's form
# checked against that engine's documented import schema (Qdrant, Milvus and pgvector do not
# install here: the facts are written down below with where they are documented); bad paths.
load helper

# a collection "c" of the given metric: ids with quotes, backslashes and unicode, payloads of
# every JSON kind, one row without a payload
make_coll() {
	"$VZ" create c --dim 3 --metric "${1:-cosine}" -q
	printf '%s\n' \
		'{"id":"a\"q","vector":[0.1,0.2,0.3],"payload":{"t":"x,y \"z\"\n","n":-1.5e-3,"l":[1,null,true]}}' \
		'{"id":"b\\s","vector":[-1,2.5,1e-3],"payload":"text"}' \
		'{"id":"\u00e9\u2603 \ud83d\ude00","vector":[3,-4,0.5]}' \
		'{"id":"plain","vector":[1,1,1],"payload":{"k":{}}}' | "$VZ" insert c - -q
}

# round_trip ENGINE: export c, load it back as c2, the dumps are the same bytes
round_trip() {
	"$VZ" export c --to "$1" -o "$BATS_TEST_TMPDIR/c.$1" -q
	"$VZ" load c2 "$BATS_TEST_TMPDIR/c.$1" -q
	cmp <("$VZ" dump c -q) <("$VZ" dump c2 -q)
	"$VZ" drop c2 --no-backup -q
}

@test "export: each form reads back byte-identical, for every metric" {
	for m in cosine euclidean dot_product; do
		make_coll "$m"
		for e in lancedb qdrant milvus pgvector; do round_trip "$e"; done
		"$VZ" drop c --no-backup -q
		rm -rf "$BATS_TEST_TMPDIR"/c.*
	done
}

@test "export: an empty collection and one without payloads" {
	"$VZ" create c --dim 2 --metric euclidean -q
	for e in lancedb qdrant milvus pgvector; do round_trip "$e"; done
	rm -rf "$BATS_TEST_TMPDIR"/c.*
	printf '%s\n' '{"id":"x","vector":[1,2]}' '{"id":"y","vector":[0.5,-2]}' | "$VZ" insert c - -q
	for e in lancedb qdrant milvus pgvector; do round_trip "$e"; done
	run cat "$BATS_TEST_TMPDIR/c.pgvector/rows.csv"
	assert_output "$(printf '%s\n' 'id,embedding,payload' '"x","[1,2]",' '"y","[0.5,-2]",')"
}

@test "export: the metric in each engine's words, the full configuration in vz.json" {
	cd "$BATS_TEST_TMPDIR"
	"$VZ" create c --dim 3 --metric dot_product --m 24 --ef-search 90 -q
	for e in lancedb qdrant milvus pgvector; do "$VZ" export c --to $e -q; done
	assert_equal "$(cat c.lancedb/table.json)" '{"name":"c","vector_column":"vector","dim":3,"distance_type":"dot"}'
	assert_equal "$(cat c.qdrant/collection.json)" '{"vectors":{"size":3,"distance":"Dot"}}'
	grep -q '"metricType":"IP"' c.milvus/schema.json
	grep -qF 'USING hnsw (embedding vector_ip_ops)' c.pgvector/schema.sql
	for e in lancedb qdrant milvus pgvector; do
		assert_equal "$(cat c.$e/vz.json)" "$("$VZ" dump c -q | head -n 1)"
	done
	grep -q '"m":24,' c.qdrant/vz.json
}

# Qdrant, as documented at https://api.qdrant.tech/api-reference (collections: create
# collection; points: upsert points) and https://qdrant.tech/documentation/concepts/points/:
# PUT /collections/NAME takes {"vectors": {"size": int, "distance": "Cosine"|"Euclid"|"Dot"|
# "Manhattan"}}; PUT /collections/NAME/points takes {"points": [PointStruct]} where a
# PointStruct is {"id": unsigned 64-bit integer or UUID string, "vector": [float], "payload":
# JSON object}; the service refuses requests over max_request_size_mb, 32 by default.
@test "export: qdrant's collection and points bodies follow its API schema" {
	make_coll cosine
	seq 1 12000 | awk '{printf "{\"id\":\"n%d\",\"vector\":[%d.125,1.5,-2.75],\"payload\":{\"pad\":\"%0700d\"}}\n", $1, $1, 0}' | "$VZ" insert c - -q
	"$VZ" export c --to qdrant -o "$BATS_TEST_TMPDIR/q" -q
	run python3 - "$BATS_TEST_TMPDIR/q" <<'PY'
import glob, json, os, sys, uuid
d = sys.argv[1]
col = json.load(open(os.path.join(d, "collection.json")))
assert set(col) == {"vectors"} and set(col["vectors"]) == {"size", "distance"}, col
size = col["vectors"]["size"]
assert type(size) is int and size == 3
assert col["vectors"]["distance"] in ("Cosine", "Euclid", "Dot", "Manhattan")
files = sorted(glob.glob(os.path.join(d, "points-*.json")))
seen, ids = 0, set()
for f in files:
    assert os.path.getsize(f) < 32 << 20, f
    body = json.load(open(f))
    assert set(body) == {"points"} and type(body["points"]) is list
    for p in body["points"]:
        assert set(p) == {"id", "vector", "payload"}, p
        assert type(p["id"]) is str and str(uuid.UUID(p["id"])) == p["id"]
        assert len(p["vector"]) == size and all(type(x) in (int, float) for x in p["vector"])
        assert type(p["payload"]) is dict and type(p["payload"]["vz_id"]) is str
        ids.add(p["id"]); seen += 1
assert seen == 12004 and len(ids) == seen, (seen, len(ids))
print(len(files), "files", seen, "points")
PY
	assert_success
	assert_output "2 files 12004 points"
	# the same point ids at every export: a second import upserts, it does not duplicate
	"$VZ" export c --to qdrant -o "$BATS_TEST_TMPDIR/q2" -q
	cmp "$BATS_TEST_TMPDIR/q/points-000001.json" "$BATS_TEST_TMPDIR/q2/points-000001.json"
	round_trip qdrant
}

# Milvus, as documented at https://milvus.io/docs/v2.3.x/bulk_insert.md (row-based JSON: the
# root key "rows", one object per entity, keys the field names, no field missing and none
# that the schema lacks, strings in VarChar fields, float arrays in vector fields) and
# https://milvus.io/api-reference/restful/v2.4.x/v2/Collection%20(v2)/Create.md (fieldName,
# dataType VarChar|FloatVector|JSON..., isPrimary, elementTypeParams max_length (at most
# 65535) and dim, indexParams metricType COSINE|L2|IP); collection names are letters, digits
# and underscores, not starting with a digit. A JSON field takes an object (which Milvus
# re-encodes) or a string of JSON text (kept as those bytes): the comment "for JSON data, we
# accept two kinds input: string and map[string]interface" in the row parser of its bulk
# import (internal/util/importutilv2/json/row_parser.go); other JSON values are refused.
@test "export: milvus's schema and row-based JSON follow its bulk import" {
	make_coll euclidean
	"$VZ" export c --to milvus -o "$BATS_TEST_TMPDIR/m" -q
	run python3 - "$BATS_TEST_TMPDIR/m" <<'PY'
import json, os, re, sys
d = sys.argv[1]
s = json.load(open(os.path.join(d, "schema.json")))
assert re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", s["collectionName"])
fields = {f["fieldName"]: f for f in s["schema"]["fields"]}
assert s["schema"]["autoId"] is False and s["schema"]["enableDynamicField"] is False
assert [n for n, f in fields.items() if f.get("isPrimary")] == ["id"]
assert fields["id"]["dataType"] == "VarChar" and 0 < fields["id"]["elementTypeParams"]["max_length"] <= 65535
assert fields["vector"]["dataType"] == "FloatVector"
dim = fields["vector"]["elementTypeParams"]["dim"]
assert fields["payload"]["dataType"] == "JSON" and fields["payload"]["nullable"] is True
idx = s["indexParams"]
assert len(idx) == 1 and idx[0]["fieldName"] == "vector" and idx[0]["metricType"] in ("COSINE", "L2", "IP")
rows = json.load(open(os.path.join(d, "rows.json")))
assert set(rows) == {"rows"}
for r in rows["rows"]:
    assert set(r) == set(fields), r
    assert type(r["id"]) is str and len(r["id"].encode()) <= fields["id"]["elementTypeParams"]["max_length"]
    assert len(r["vector"]) == dim and all(type(x) in (int, float) for x in r["vector"])
    assert r["payload"] is None or type(r["payload"]) is str and json.loads(r["payload"]) is not None
print(len(rows["rows"]), "rows", idx[0]["metricType"])
PY
	assert_success
	assert_output "4 rows L2"
	# the way back also takes a payload Milvus wrote back as an object
	sed -i 's/"payload":"{\\"k\\":{}}"/"payload":{"k":{}}/' "$BATS_TEST_TMPDIR/m/rows.json"
	grep -qF '"payload":{"k":{}}' "$BATS_TEST_TMPDIR/m/rows.json"
	"$VZ" load c2 "$BATS_TEST_TMPDIR/m" -q
	cmp <("$VZ" dump c -q) <("$VZ" dump c2 -q)
}

# pgvector, as documented at https://github.com/pgvector/pgvector (README: "CREATE EXTENSION
# vector", the column type vector(n), the text form '[1,2,3]', bulk loading with COPY, HNSW
# indexes with vector_l2_ops, vector_ip_ops or vector_cosine_ops, at most 2000 dimensions
# indexed) and PostgreSQL's COPY (https://www.postgresql.org/docs/current/sql-copy.html: in
# CSV format a field with a quote, comma or newline is quoted, a quote inside doubled, NULL an
# unquoted empty field, HEADER a first line of column names).
@test "export: pgvector's schema and COPY CSV follow its documented forms" {
	make_coll cosine
	"$VZ" export c --to pgvector -o "$BATS_TEST_TMPDIR/p" -q
	run python3 - "$BATS_TEST_TMPDIR/p" <<'PY'
import csv, json, os, re, sys
d = sys.argv[1]
sql = open(os.path.join(d, "schema.sql")).read()
assert "CREATE EXTENSION IF NOT EXISTS vector;" in sql
m = re.search(r"CREATE TABLE (\w+) \(id text PRIMARY KEY, embedding vector\((\d+)\) NOT NULL, payload jsonb\);", sql)
assert m, sql
table, dim = m.group(1), int(m.group(2))
assert re.search(r"CREATE INDEX ON %s USING hnsw \(embedding (vector_l2_ops|vector_ip_ops|vector_cosine_ops)\);" % table, sql)
raw = open(os.path.join(d, "rows.csv"), newline="").read()
rows = list(csv.reader(raw.splitlines(keepends=True)))
assert rows[0] == ["id", "embedding", "payload"]
num = r"-?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?"
nulls = 0
for r in rows[1:]:
    assert len(r) == 3, r
    assert re.fullmatch(r"\[%s(?:,%s){%d}\]" % (num, num, dim - 1), r[1]), r[1]
    if r[2] == "":
        nulls += 1
    else:
        json.loads(r[2])
# NULL is an unquoted empty field: exactly one row ends in ","
assert nulls == 1 and sum(1 for l in raw.split("\n") if l.endswith('",')) == 1
print(len(rows) - 1, "rows", table, dim)
PY
	assert_success
	assert_output "4 rows c 3"
}

@test "export: bad paths: unknown or missing --to, no collection, existing output, unwritable output" {
	cd "$BATS_TEST_TMPDIR"
	make_coll cosine
	run "$VZ" export c --to weaviate
	assert_equal "$status" 64
	assert_output --partial "weaviate"
	run "$VZ" export c
	assert_equal "$status" 64
	assert_output --partial "--to"
	run "$VZ" export nosuch --to qdrant
	assert_equal "$status" 66
	[ ! -e nosuch.qdrant ]
	"$VZ" export c --to qdrant -q
	run "$VZ" export c --to qdrant
	assert_equal "$status" 73
	assert_output --partial "c.qdrant: exists"
	# --force replaces an earlier export, never anything else
	echo stale > c.qdrant/points-000009.json
	"$VZ" export c --to qdrant --force -q
	[ ! -e c.qdrant/points-000009.json ]
	mkdir mine && echo keep > mine/notes
	run "$VZ" export c --to milvus -o mine --force
	assert_equal "$status" 73
	assert_output --partial "not an earlier export"
	assert_equal "$(cat mine/notes)" keep
	echo file > afile
	run "$VZ" export c --to milvus -o afile/sub
	assert_equal "$status" 74
	assert_output --partial "afile/sub"
	if [ "$(id -u)" -ne 0 ]; then
		mkdir ro && chmod 555 ro
		run "$VZ" export c --to milvus -o ro/out
		assert_equal "$status" 74
	fi
	# nothing half-written is left behind
	run ls -A
	refute_output --partial ".tmp-"
}

@test "export: load refuses a damaged export, naming the file and row" {
	cd "$BATS_TEST_TMPDIR"
	make_coll euclidean
	for e in lancedb qdrant milvus pgvector; do "$VZ" export c --to $e -q; done
	sed -i '2s/"vector":\[/"vectr":[/' c.lancedb/rows.jsonl
	run "$VZ" load x c.lancedb
	assert_equal "$status" 65
	assert_output --partial "c.lancedb/rows.jsonl: row 2: unknown or repeated key"
	sed -i 's/"vz_id":"plain"/"vz_idx":"plain"/' c.qdrant/points-000001.json
	run "$VZ" load x c.qdrant
	assert_equal "$status" 65
	assert_output --partial "points-000001.json: row 4"
	sed -i 's/"Euclid"/"Cosine"/' c.qdrant/collection.json
	run "$VZ" load x c.qdrant
	assert_equal "$status" 65
	assert_output --partial "disagree"
	sed -i 's/{"rows":\[/{"rowz":[/' c.milvus/rows.json
	run "$VZ" load x c.milvus
	assert_equal "$status" 65
	assert_output --partial 'rows.json: offset 0: {"rows": [...]} expected'
	sed -i '3s/\[-1,2.5/[-1,x2.5/' c.pgvector/rows.csv
	run "$VZ" load x c.pgvector
	assert_equal "$status" 65
	assert_output --partial "c.pgvector/rows.csv: row 2: value 2 of the vector is not a JSON number"
	rm c.pgvector/schema.sql
	run "$VZ" load x c.pgvector
	assert_equal "$status" 66
	assert_output --partial "not an export directory"
	run "$VZ" list
	refute_output --partial "x"
}

@test "export: an I/O error at any step exits 74 and leaves nothing; a crash leaves no half export" {
	cd "$BATS_TEST_TMPDIR"
	make_coll cosine
	VZ_IO_TRACE=$PWD/trace "$VZ" export c --to qdrant -o t -q
	n=$(wc -l < trace)
	[ "$n" -ge 6 ]
	rm -rf t
	for i in $(seq 1 "$n"); do
		run env VZ_FAULT="$i:ENOSPC" "$VZ" export c --to qdrant -o out -q
		# the steps after the rename (syncing the parent) cannot undo the export
		if [ "$status" -eq 0 ]; then
			"$VZ" load c2 out -q && cmp <("$VZ" dump c -q) <("$VZ" dump c2 -q) && "$VZ" drop c2 --no-backup -q
			rm -rf out
			continue
		fi
		assert_equal "$status" 74
		assert_output --partial "out: cannot write the export"
		left=$(ls -A | grep -vx -e data -e trace || true)
		[ -z "$left" ] || fail "fault $i left: $left"
	done
	for i in $(seq 1 "$n"); do
		run env VZ_FAULT="$i:crash" "$VZ" export c --to pgvector -o out -q
		if [ -e out ]; then
			"$VZ" load c2 out -q && cmp <("$VZ" dump c -q) <("$VZ" dump c2 -q) && "$VZ" drop c2 --no-backup -q
		fi
		rm -rf out out.tmp-*
	done
}

@test "export: pgvector's way back reads COPY TO's CSV (quotes only where needed, jsonb's spacing)" {
	cd "$BATS_TEST_TMPDIR"
	make_coll euclidean
	"$VZ" export c --to pgvector -o p -q
	mkdir back && cp p/schema.sql p/vz.json back/
	# as PostgreSQL writes it: a field is quoted only when it holds a comma, quote or newline
	printf '%s\n' 'id,embedding,payload' 'plain,"[1,1,1]","{""k"": {}}"' '"a""q","[0.1,0.2,0.3]",' 'x y,"[3,-4,0.5]","[1, 2]"' > back/rows.csv
	"$VZ" load c2 back -q
	run "$VZ" get c2 plain 'a"q' 'x y' --json
	assert_success
	assert_output "$(printf '%s\n' '{"id":"plain","payload":{"k": {}}}' '{"id":"a\"q","payload":null}' '{"id":"x y","payload":[1, 2]}')"
}

@test "export: load refuses truncated and ambiguous exports" {
	cd "$BATS_TEST_TMPDIR"
	make_coll cosine
	for e in lancedb qdrant milvus pgvector; do "$VZ" export c --to $e -q; done
	head -c 200 c.qdrant/points-000001.json > t && mv t c.qdrant/points-000001.json
	run "$VZ" load x c.qdrant
	assert_equal "$status" 65
	assert_output --partial "points-000001.json: offset 0"
	sed -i '1s/"payload":"{[^}]*}[^,]*"/"payload":12/' c.lancedb/rows.jsonl
	run "$VZ" load x c.lancedb
	assert_equal "$status" 65
	assert_output --partial 'rows.jsonl: row 1: "payload" must be a JSON string'
	printf 'id,embedding,payload\n"a,"[1,2,3]",\n' > c.pgvector/rows.csv
	run "$VZ" load x c.pgvector
	assert_equal "$status" 65
	assert_output --partial "rows.csv: row 1"
	sed -i 's/"dim":3/"dim":0/' c.milvus/schema.json
	run "$VZ" load x c.milvus
	assert_equal "$status" 65
	assert_output --partial "schema.json: no dimension"
	cp c.pgvector/schema.sql c.lancedb/
	run "$VZ" load x c.lancedb
	assert_equal "$status" 65
	assert_output --partial "both table.json and schema.sql"
	run "$VZ" list
	refute_output --partial "x"
}
