#!/usr/bin/env bats
# Segments of an sq8 collection: they hold float rows and a float graph, as a float collection's
# do, and compaction quantises them into the sq8 base; so an sq8 load is acknowledged before its
# graph exists, and an incremental checkpoint leaves the sq8 base as it is (vz-format(5)).
load helper

# oracle FVECS OPS QUERY K: the ids of the K exact nearest rows (euclidean) of the load FVECS
# (ids 0...) after the JSON lines OPS (an "op" of insert, update or delete), one line
oracle() {
	python3 - "$@" <<'PY'
import json, math, struct, sys
path, ops, q, k = sys.argv[1], sys.argv[2], json.loads(sys.argv[3]), int(sys.argv[4])
rows = {}
with open(path, "rb") as f:
    i = 0
    while (h := f.read(4)):
        d = struct.unpack("<i", h)[0]
        rows[str(i)] = struct.unpack("<%df" % d, f.read(4 * d))
        i += 1
if ops != "-":
    for l in open(ops):
        o = json.loads(l)
        if o["op"] == "delete": del rows[o["id"]]
        else: rows[o["id"]] = o["vector"]
best = sorted((math.dist(v, q), i) for i, v in rows.items())[:k]
print(" ".join(i for _, i in best))
PY
}

# the ids vz query answers, one line; with a wide beam (ef 400 over some 20,000 rows), because
# these graphs are built on two threads and differ from run to run, and the oracle is exact:
# what is checked is the merge of base and segments on one distance scale, not a graph's luck
ids() { "$VZ" query q --vector "$1" -k "$2" --ef 400 | cut -f2 | tr '\n' ' ' | sed 's/ $//'; }

# the flags of a graph file's header (bit 0: sq8 codes)
graph_flags() { python3 -c 'import struct,sys; print(struct.unpack("<I", open(sys.argv[1],"rb").read(16)[12:16])[0])' "$1"; }

row_json() { python3 -c 'import struct,sys; f=open(sys.argv[1],"rb"); i=int(sys.argv[2]); d=struct.unpack("<i",f.read(4))[0]; f.seek(i*(4+4*d)+4); print("["+",".join(repr(x) for x in struct.unpack("<%df"%d,f.read(4*d)))+"]")' "$@"; }

teardown() {
	[ -d "$VZ_DATA_DIR/dynamic/q" ] && "$VZ" checkpoint --wait q -q 2>/dev/null
	true
}

@test "an sq8 load is acknowledged before its graph; checkpoints fold it, write float segments beside the sq8 base, and compaction quantises them" {
	local T="$BATS_TEST_TMPDIR" d="$VZ_DATA_DIR/dynamic/q" z='[0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0]' o='[1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1]'
	fvecs "$T/a.fvecs" 20000 16 3
	"$VZ" create q --dim 16 --metric euclidean --quantization sq8 -q
	# VZ_BULK_BYTES lowers the threshold (256 MiB of log) to what a test loads
	VZ_BULK_BYTES=100000 VZ_AUTO_CHECKPOINT=off run "$VZ" insert q "$T/a.fvecs" --json -v
	assert_success
	assert_output --partial '"inserted":20000,'
	assert_output --partial 'straight into a segment, its index left to the checkpoint (bulk)'
	[ -f "$d/seg-1.vec" ] && [ ! -e "$d/seg-1.hnsw" ] && [ ! -e "$d/index.hnsw" ] || fail "$(ls "$d")"
	# queryable at once: the exact neighbours
	for i in 0 4321 19999; do
		assert_equal "$(ids "$(row_json "$T/a.fvecs" $i)" 1)" "$i"
	done
	assert_equal "$(ids "$z" 5)" "$(oracle "$T/a.fvecs" - "$z" 5)"
	run "$VZ" verify q
	assert_success
	# the checkpoint indexes it: a new sq8 base
	"$VZ" checkpoint --wait q -q
	[ -f "$d/index.hnsw" ] && [ ! -e "$d/seg-1.vec" ] || fail "$(ls "$d")"
	assert_equal "$(graph_flags "$d/index.hnsw")" 1
	run "$VZ" verify q
	assert_success
	# 100 operations (98 inserts, an update, a delete): an incremental checkpoint writes them
	# as a segment of floats with a float graph, the sq8 base byte for byte as it was
	python3 - "$T/ops.jsonl" "$T/ins.jsonl" <<'PY'
import json, random, sys
r = random.Random(9)
with open(sys.argv[1], "w") as f:
    with open(sys.argv[2], "w") as ins:
        for i in range(98):
            o = {"id": "n%d" % i, "vector": [round(r.gauss(0, 0.5), 5) for _ in range(16)]}
            ins.write(json.dumps(o) + "\n")
            f.write(json.dumps(dict(o, op="insert")) + "\n")
    f.write(json.dumps({"op": "update", "id": "14630", "vector": [1.0] * 16}) + "\n")
    f.write(json.dumps({"op": "delete", "id": "8035"}) + "\n")
PY
	"$VZ" insert q "$T/ins.jsonl" -q
	echo '{"id":"14630","vector":[1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1]}' | "$VZ" update q - -q
	"$VZ" delete q 8035 -q
	local before want
	before=$(cd "$d" && sha256sum vectors.bin index.hnsw)
	want=$("$VZ" dump q -q)
	run "$VZ" checkpoint q
	assert_success
	assert_output --partial "folded 100 operations; generation 3, 20097 live vectors"
	assert_equal "$(cd "$d" && sha256sum vectors.bin index.hnsw)" "$before"
	[ -f "$d/seg-3.vec" ] && [ -f "$d/seg-3.hnsw" ] || fail "$(ls "$d")"
	assert_equal "$(graph_flags "$d/seg-3.hnsw")" 0
	run "$VZ" verify q
	assert_success
	assert_equal "$("$VZ" dump q -q)" "$want"
	# one distance scale: the sq8 base's hits are re-ranked on floats, merged with the segment's
	assert_equal "$(ids "$z" 10)" "$(oracle "$T/a.fvecs" "$T/ops.jsonl" "$z" 10)"
	assert_equal "$(ids "$o" 3)" "$(oracle "$T/a.fvecs" "$T/ops.jsonl" "$o" 3)"
	run "$VZ" query q --vector "$o" -k 1
	assert_output $'0\t14630'
	# backup and restore carry the segment whole
	"$VZ" backup q -o "$T/b.vzb" -q
	"$VZ" drop q --no-backup -q
	"$VZ" restore "$T/b.vzb" -q
	[ -f "$d/seg-3.vec" ] && [ -f "$d/seg-3.hnsw" ] || fail "$(ls "$d")"
	run "$VZ" verify q
	assert_success
	assert_equal "$("$VZ" dump q -q)" "$want"
	# compaction quantises the segment into a new sq8 base
	"$VZ" checkpoint --compact q -q
	[ ! -e "$d/seg-3.vec" ] && [ ! -e "$d/seg-3.hnsw" ] || fail "$(ls "$d")"
	assert_equal "$(graph_flags "$d/index.hnsw")" 1
	run "$VZ" verify q
	assert_success
	assert_equal "$("$VZ" dump q -q)" "$want"
	assert_equal "$(ids "$z" 10)" "$(oracle "$T/a.fvecs" "$T/ops.jsonl" "$z" 10)"
}

@test "SIGKILL of deferred sq8 loads and of the checkpoints indexing them loses nothing acknowledged; verify is clean after" {
	local T="$BATS_TEST_TMPDIR" d="$VZ_DATA_DIR/dynamic/q"
	fvecs "$T/k.fvecs" 2000 16 5
	"$VZ" create q --dim 16 --metric cosine --quantization sq8 -q
	export VZ_BULK_BYTES=100000
	: >"$T/acked"
	for cycle in $(seq 1 6); do
		killed_load_and_checkpoint q "$T/k.fvecs" $((cycle * 10000)) 40 "$T/acked" 200
		# oracle by ids: a load is all there or not at all; an acknowledged one is all there
		"$VZ" dump q -q | python3 -c '
import json, sys
have = {}
for l in sys.stdin:
    j = json.loads(l)
    if "id" in j: have.setdefault(int(j["id"]) // 10000, set()).add(j["id"])
acked = {int(x) for x in open(sys.argv[1]).read().split()}
for c in range(1, int(sys.argv[2]) + 1):
    n = len(have.get(c, ()))
    want = {str(c * 10000 + i) for i in range(2000)}
    if n not in (0, 2000) or (n and have[c] != want): sys.exit("load %d is partly there (%d rows)" % (c, n))
    if c in acked and n != 2000: sys.exit("acknowledged load %d is missing" % c)
' "$T/acked" "$cycle" || fail "cycle $cycle"
	done
	"$VZ" checkpoint --wait q -q
	[ -z "$(ls "$d" | grep '^seg-.*\.vec$' | while read -r s; do [ -e "$d/${s%.vec}.hnsw" ] || echo "$s"; done)" ] || fail "a segment left without a graph: $(ls "$d")"
	run "$VZ" verify q
	assert_success
	# a load left to finish after all that: acknowledged, and its rows found with the others
	VZ_AUTO_CHECKPOINT=off "$VZ" insert q "$T/k.fvecs" --id-base 70000 -q
	c=7
	run "$VZ" query q --vector "$(row_json "$T/k.fvecs" 17)" -k 8
	assert_line --regexp $'^(1|0\.99999[0-9]*)\t'"$((c * 10000 + 17))$"
}

@test "recover rebuilds a deleted segment graph of an sq8 collection from the segment's rows" {
	local T="$BATS_TEST_TMPDIR" d="$VZ_DATA_DIR/dynamic/q"
	"$VZ" create q --dim 8 --metric euclidean --quantization sq8 -q
	jsonl 400 8 1 | "$VZ" insert q - -q
	"$VZ" checkpoint q -q
	jsonl 60 8 2 n | "$VZ" insert q - -q
	"$VZ" delete q v7 -q
	"$VZ" checkpoint q -q
	[ -f "$d/seg-2.hnsw" ] || fail "no segment graph was written: $(ls "$d")"
	answers() {
		for v in '[0,0,0,0,0,0,0,0]' '[1,-1,1,-1,1,-1,1,-1]' '[2,2,0,0,-2,-2,0,0]'; do "$VZ" query q --vector "$v" -k 10 || return 1; done
		"$VZ" dump q -q
	}
	local want keep
	want=$(answers)
	keep=$(sha256sum "$d/seg-2.vec" "$d/vectors.bin" "$d/index.hnsw")
	rm "$d/seg-2.hnsw"
	run "$VZ" verify q
	assert_equal "$status" 1
	assert_line --index 0 "q: seg-2.hnsw: missing (metadata.json lists it)"
	run "$VZ" recover q
	assert_success
	assert_line "vz recover: q: 1 segment graph rebuilt from the segment's rows"
	assert_equal "$(sha256sum "$d/seg-2.vec" "$d/vectors.bin" "$d/index.hnsw")" "$keep"
	assert_equal "$(graph_flags "$d/seg-2.hnsw")" 0
	run "$VZ" verify q
	assert_success
	assert_equal "$(answers)" "$want"
}
