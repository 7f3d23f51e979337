#!/usr/bin/env bats
# The graph of a workspace collection is left to the checkpoint: `vz build` commits the text
# index and the vectors without index.hnsw (--text answers ready, --vector ones an exact scan),
# a detached `vz checkpoint --if-needed` adds the graph without changing the generation; crashes,
# power cuts and kills of that step, and builds during and after it.
load helper

setup() {
	workspace_p_docs
	corpus 60 1
	D="$VZ_DATA_DIR/workspace/p/docs"
}

# corpus N SEED: N small files of random words (no two alike, so no ties among the neighbours)
corpus() {
	python3 - "$@" <<'PY'
import random, sys
n, seed = int(sys.argv[1]), int(sys.argv[2])
r = random.Random(seed)
vocab = ["w%03d" % i for i in range(400)]
for i in range(n):
    with open("p/f%04d.md" % i, "w") as f:
        f.write("# File %d\n%s\n" % (i, " ".join(r.choice(vocab) for _ in range(25))))
PY
}

# the ids of the rows (one chunk per file)
ids() { for f in p/*.md; do f=${f#p/}; echo "$f#0"; done; }

# the five nearest rows of each of six rows' vectors: by vz query --vector, one line per query
vector_answers() {
	"$VZ" get p/docs $(ids) --json --vector > "$BATS_TEST_TMPDIR/rows.jsonl"
	python3 - "$BATS_TEST_TMPDIR/rows.jsonl" > "$BATS_TEST_TMPDIR/queries" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
for r in rows[::max(1, len(rows) // 6)]:
    print(json.dumps(r["vector"]))
PY
	while read -r q; do
		"$VZ" query p/docs --vector "$q" -k 5 --json | python3 -c 'import json,sys; print(" ".join(json.loads(l)["id"] for l in sys.stdin))'
	done < "$BATS_TEST_TMPDIR/queries"
}

# the same, computed exactly (cosine) from the stored vectors
exact_answers() {
	"$VZ" get p/docs $(ids) --json --vector > "$BATS_TEST_TMPDIR/rows.jsonl"
	python3 - "$BATS_TEST_TMPDIR/rows.jsonl" <<'PY'
import json, math, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
def cos(a, b):
    return sum(x * y for x, y in zip(a, b)) / (math.sqrt(sum(x * x for x in a)) * math.sqrt(sum(y * y for y in b)))
for q in rows[::10]:
    best = sorted(rows, key=lambda r: -cos(q["vector"], r["vector"]))[:5]
    print(" ".join(r["id"] for r in best))
PY
}

text_answers() {
	for q in "w001 w002" "w100 w200 w300" "file w399"; do "$VZ" query p/docs --text "$q" -k 5; done
}

graph_listed() { grep -q '"index.hnsw"' "$D/metadata.json"; }

@test "vz build leaves the graph to the checkpoint: --text as an inline build, --vector exact; the checkpoint adds the graph, same generation" {
	run env VZ_AUTO_CHECKPOINT=off "$VZ" build --json
	assert_success
	assert_output --partial '"index":"deferred"'
	! graph_listed || fail "metadata.json names a graph: $(cat "$D/metadata.json")"
	[ ! -e "$D/index.hnsw" ]
	run "$VZ" verify p/docs
	assert_success
	gen=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["generation"])' "$D/metadata.json")
	# the text answers of a build that made its graph inline
	VZ_DATA_DIR="$BATS_TEST_TMPDIR/inline" "$VZ" build -q
	want_text=$(VZ_DATA_DIR="$BATS_TEST_TMPDIR/inline" text_answers)
	[ -n "$want_text" ]
	[ "$(text_answers)" = "$want_text" ] || fail "--text answers differ from an inline build's"
	want=$(exact_answers)
	[ "$(echo "$want" | wc -l)" -eq 6 ]
	[ "$(vector_answers)" = "$want" ] || fail "--vector without a graph: $(vector_answers), exact: $want"
	# recover leaves the graph to the checkpoint
	run "$VZ" recover p/docs -q
	assert_success
	! graph_listed
	run "$VZ" checkpoint p/docs
	assert_success
	assert_output --partial "p/docs: graph built; generation $gen, 60 live vectors"
	graph_listed
	[ -f "$D/index.hnsw" ]
	grep -q "\"generation\": $gen," "$D/metadata.json"
	# the same graph as the inline build's (one thread below 1024 rows: the same bytes)
	sum() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["files"]["index.hnsw"]["body_xxh3"])' "$1/workspace/p/docs/metadata.json"; }
	[ "$(sum "$VZ_DATA_DIR")" = "$(sum "$BATS_TEST_TMPDIR/inline")" ] || fail "the graph differs from an inline build's"
	run "$VZ" verify p/docs
	assert_success
	[ "$(vector_answers)" = "$want" ] || fail "--vector with the graph (recall below 1.0)"
	[ "$(text_answers)" = "$want_text" ]
	# nothing more to do: --if-needed and --wait say so, a plain checkpoint is refused as ever
	run "$VZ" checkpoint p/docs --if-needed
	assert_success
	run "$VZ" checkpoint p/docs --wait
	assert_success
	run "$VZ" checkpoint p/docs
	assert_equal "$status" 77
	assert_output --partial "a workspace collection: vz build rebuilds it, there is no WAL to fold"
	# a graph that metadata.json names is still missed
	mv "$D/index.hnsw" "$BATS_TEST_TMPDIR/graph"
	run "$VZ" verify p/docs
	assert_equal "$status" 1
	assert_output --partial "index.hnsw: missing (metadata.json lists it)"
	run "$VZ" query p/docs --vector "$(head -1 "$BATS_TEST_TMPDIR/queries")"
	assert_equal "$status" 66
	assert_output --partial "index unusable (run vz recover to rebuild it)"
}

@test "background and auto: vz build returns, the detached checkpoint builds the graph, vz checkpoint --wait waits for it" {
	run env VZ_AUTO_CHECKPOINT=background "$VZ" build --json
	assert_success
	assert_output --partial '"index":"deferred"'
	# the detached checkpoint, started by the build with the workspace's data directory
	for i in $(seq 1 600); do graph_listed && break; sleep 0.05; done
	graph_listed || fail "no detached checkpoint built the graph in 30 s"
	run "$VZ" checkpoint p/docs --wait
	assert_success
	run "$VZ" verify p/docs
	assert_success
	[ "$(vector_answers)" = "$(exact_answers)" ]
	# auto: a graph this small is built by vz build itself
	rm -rf "$VZ_DATA_DIR"
	run env VZ_AUTO_CHECKPOINT=auto "$VZ" build --json
	assert_success
	assert_output --partial '"index":"built"'
	graph_listed
	# inline: built within the snapshot, as before
	rm -rf "$VZ_DATA_DIR"
	run "$VZ" build --json
	assert_output --partial '"index":"built"'
	graph_listed
}

@test "incremental builds without a graph rewrite and defer again; with one they extend it; a build during the graph step" {
	VZ_AUTO_CHECKPOINT=off "$VZ" build -q
	printf '# Changed\nw005 w006 w007 brand new words here\n' > p/f0003.md
	run env VZ_AUTO_CHECKPOINT=off "$VZ" build --json
	assert_output --partial '"changed":1'
	assert_output --partial '"index":"deferred"'
	! graph_listed
	[ "$(vector_answers)" = "$(exact_answers)" ]
	"$VZ" checkpoint p/docs -q
	graph_listed
	printf '# Again\nw010 w011 w012 other words\n' > p/f0004.md
	run env VZ_AUTO_CHECKPOINT=off "$VZ" build --json
	assert_output --partial '"index":"extended"'
	graph_listed
	run "$VZ" verify p/docs
	assert_success
	[ "$(vector_answers)" = "$(exact_answers)" ]
	# builds while graph steps run: whatever the order, the last snapshot gets its graph
	rm -rf "$VZ_DATA_DIR"
	corpus 900 2
	VZ_AUTO_CHECKPOINT=off "$VZ" build -q
	for i in 1 2 3; do
		"$VZ" checkpoint p/docs --if-needed -q &
		ck=$!
		printf '# Round %d\nw%03d w%03d round words\n' $i $i $((i + 50)) > "p/f000$i.md"
		VZ_AUTO_CHECKPOINT=off "$VZ" build -q --force
		wait $ck || true # 75 when builds kept replacing the snapshot
	done
	run "$VZ" checkpoint p/docs --wait
	assert_success
	graph_listed
	run "$VZ" verify p/docs
	assert_success
	run "$VZ" query p/docs --text "round words" -k 3
	assert_line --index 0 --regexp $'\tf000[123]\\.md:1\t# Round [123] '
}

@test "a crash or power cut at each I/O call of the graph step leaves it as it was or done; the next checkpoint finishes it" {
	VZ_AUTO_CHECKPOINT=off "$VZ" build -q
	want=$(exact_answers)
	cp -a "$VZ_DATA_DIR" "$BATS_TEST_TMPDIR/deferred"
	VZ_IO_TRACE="$BATS_TEST_TMPDIR/trace" "$VZ" checkpoint p/docs -q
	cp "$D/index.hnsw" "$BATS_TEST_TMPDIR/graph"
	last=$(awk '$2 == "rename" && $3 ~ /\/metadata\.json$/ {n = $1} END {print n + 1}' "$BATS_TEST_TMPDIR/trace")
	[ "$last" -gt 3 ] || fail "no commit of metadata.json in the trace: $(cat "$BATS_TEST_TMPDIR/trace")"
	[ "$(sed -n "${last}p" "$BATS_TEST_TMPDIR/trace" | awk '{print $2}')" = fsync_dir ] || fail "no fsync of the directory after the commit"
	for kind in crash powercut; do
		asitwas=0 done_=0
		for ((n = 1; n <= last; n++)); do
			rm -rf "$VZ_DATA_DIR" && cp -a "$BATS_TEST_TMPDIR/deferred" "$VZ_DATA_DIR"
			run env VZ_FAULT="$n:$kind" "$VZ" checkpoint p/docs -q
			[ "$status" -eq 137 ] || fail "checkpoint under VZ_FAULT=$n:$kind exited $status: $output"
			run "$VZ" verify p/docs
			[ "$status" -eq 0 ] || fail "after VZ_FAULT=$n:$kind verify says: $output"
			if graph_listed; then done_=$((done_ + 1)); else asitwas=$((asitwas + 1)); fi
			run "$VZ" checkpoint p/docs --wait -q
			assert_success
			graph_listed || fail "after VZ_FAULT=$n:$kind a checkpoint did not add the graph"
			run "$VZ" verify p/docs
			assert_success
			# the graph, however it came, is the one a clean step makes
			cmp -s "$D/index.hnsw" "$BATS_TEST_TMPDIR/graph" || fail "after VZ_FAULT=$n:$kind the graph differs"
		done
		[ "$(vector_answers)" = "$want" ] || fail "after the faults of $kind the answers differ"
		[ "$asitwas" -gt 0 ] || fail "$kind: no fault left it as it was"
		[ "$done_" -gt 0 ] || [ "$kind" = powercut ] || fail "$kind: no fault left it done"
	done
	# an I/O error or a full disk: reported (74), nothing changed
	for kind in EIO ENOSPC; do
		rm -rf "$VZ_DATA_DIR" && cp -a "$BATS_TEST_TMPDIR/deferred" "$VZ_DATA_DIR"
		run env VZ_FAULT="1:$kind" "$VZ" checkpoint p/docs -q
		assert_equal "$status" 74
		! graph_listed
		run "$VZ" verify p/docs
		assert_success
	done
}

@test "SIGKILL of the graph step at random moments: verify clean, a later checkpoint finishes it" {
	rm -rf p && mkdir p
	corpus 1500 3
	VZ_AUTO_CHECKPOINT=off "$VZ" build -q
	for i in 1 2 3 4 5; do
		"$VZ" checkpoint p/docs -q --threads 1 &
		ck=$!
		sleep "0.$((RANDOM % 500))"
		kill -9 $ck 2>/dev/null || true
		wait $ck 2>/dev/null || true
		run "$VZ" verify p/docs --quick
		assert_success
		run "$VZ" query p/docs --text "w001 w002" -k 1
		assert_success
	done
	run "$VZ" checkpoint p/docs --wait -q
	assert_success
	graph_listed
	run "$VZ" verify p/docs
	assert_success
}

# Segments: an incremental build writes the rows of the changed files as a segment beside the
# base (seg-G.vec and seg-G.hnsw, listed in metadata.json), never vectors.bin or index.hnsw.
segments() { python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1])).get("segments", [])))' "$D/metadata.json"; }
# vector_answers' ids (on stdin), checked against the exact cosine distances of the rows it
# wrote: at each rank the same distance (rows of equal distance may come in either order)
near_exact() {
	python3 -c '
import json, math, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
vec = {r["id"]: r["vector"] for r in rows}
def d(a, b):
    return 1 - sum(x * y for x, y in zip(a, b)) / (math.sqrt(sum(x * x for x in a)) * math.sqrt(sum(y * y for y in b)))
lines = sys.stdin.read().split("\n")
for q, line in zip(rows[::max(1, len(rows) // 6)], lines):
    want = sorted(d(q["vector"], r["vector"]) for r in rows)[:5]
    got = [d(q["vector"], vec[i]) for i in line.split()]
    if len(got) != 5 or any(abs(a - b) > 1e-6 for a, b in zip(got, want)):
        sys.exit("query %s: %s, exact distances %s" % (q["id"], line, want))
' "$BATS_TEST_TMPDIR/rows.jsonl"
}
vectors_exact() { local a; a=$(vector_answers) && echo "$a" | near_exact; }
# (ids and exact scores, per file and per chunk; "fresh words", "w050" and "longer" are terms
# whose df the changed, added and removed files change)
json_text_answers() {
	for q in "w001 w002" "w100 w200 w300" "file w399" "fresh words" "w050 longer short"; do
		"$VZ" query p/docs --text "$q" -k 8 --json
		"$VZ" query p/docs --text "$q" -k 8 --json --chunks
	done
}

@test "incremental builds add segments and leave the base alone; answers equal a full rebuild's; compaction back to one snapshot" {
	rm -rf p && mkdir p
	corpus 150 4 # eight builds' dead rows stay below a fifth of the rows
	"$VZ" build -q
	base=$(stat -c '%i %Y %s' "$D/vectors.bin" "$D/index.hnsw" "$D/cache.bin" "$D/postings.bin")
	for i in 1 2 3 4 5 6 7 8; do
		printf '# Changed %d\nw%03d w%03d fresh words %d\n' $i $i $((i + 100)) $i > "p/f000$i.md"
		[ $i -ne 3 ] || printf '# Added\nw007 w008 w009 fresh words added\n' > p/added.md
		[ $i -ne 5 ] || rm p/f0030.md
		[ $i -ne 6 ] || printf '# Longer\n%s\n' "$(seq -s ' w0' 1 300)" > p/f0040.md # more chunks than before
		[ $i -ne 7 ] || printf '# Short\nw050\n' > p/f0040.md                          # fewer again: tombstone rows
		run "$VZ" build --json
		assert_success
		[[ "$output" == *'"index":"extended"'* ]] || fail "build $i: $output"
		[ "$(segments)" -eq $i ] || fail "build $i: $(segments) segments"
		[ -f "$D/seg-$((i + 1)).vec" ] && [ -f "$D/seg-$((i + 1)).hnsw" ] || fail "build $i: $(ls "$D")"
		[ "$(stat -c '%i %Y %s' "$D/vectors.bin" "$D/index.hnsw" "$D/cache.bin" "$D/postings.bin")" = "$base" ] || fail "build $i rewrote the base"
		# cache.bin's records stay, the changed ones are in cache.delta: far smaller; so do
		# postings.bin's, the changed files' postings are in postings.delta
		[ "$(stat -c %s "$D/cache.delta")" -lt "$(stat -c %s "$D/cache.bin")" ]
		[ "$(stat -c %s "$D/postings.delta")" -lt "$(stat -c %s "$D/postings.bin")" ]
		run "$VZ" verify p/docs
		assert_success
		# the answers of a full build of the same tree: --text ids and scores, --vector ids (after
		# the builds that add, remove, lengthen and shorten a file)
		[[ " 3 5 6 7 8 " == *" $i "* ]] || continue
		rm -rf "$BATS_TEST_TMPDIR/full"
		VZ_DATA_DIR="$BATS_TEST_TMPDIR/full" "$VZ" build -q
		[ "$(json_text_answers)" = "$(VZ_DATA_DIR="$BATS_TEST_TMPDIR/full" json_text_answers)" ] || fail "build $i: --text answers differ"
		vectors_exact || fail "build $i: --vector answers are not the exact ones"
		VZ_DATA_DIR="$BATS_TEST_TMPDIR/full" vectors_exact
	done
	run "$VZ" info p/docs --json
	assert_output --partial '"segments":8,'
	assert_output --partial '"graph":"built"'
	# the ninth: eight segments are the most, they and this one are folded into a new base
	# whose graph is the old one extended (the rows keep their numbers: cache.bin stays)
	printf '# Ninth\nw009 fresh words nine\n' > p/f0009.md
	run "$VZ" build --json
	assert_output --partial '"index":"extended"'
	[ "$(segments)" -eq 0 ]
	[ -z "$(ls "$D" | grep '^seg-')" ] || fail "segments left behind: $(ls "$D")"
	[ "$(stat -c '%i %Y %s' "$D/vectors.bin" "$D/index.hnsw" "$D/cache.bin" "$D/postings.bin")" != "$base" ]
	[ -f "$D/cache.delta" ]
	[ ! -e "$D/postings.delta" ] # postings.bin written whole again
	run "$VZ" verify p/docs
	assert_success
	rm -rf "$BATS_TEST_TMPDIR/full"
	VZ_DATA_DIR="$BATS_TEST_TMPDIR/full" "$VZ" build -q
	[ "$(json_text_answers)" = "$(VZ_DATA_DIR="$BATS_TEST_TMPDIR/full" json_text_answers)" ]
	vectors_exact
	# too many dead rows for a segment (more than a fifth of the rows): one snapshot again
	printf '# One\nw001 one more\n' > p/f0011.md
	run "$VZ" build --json
	assert_output --partial '"index":"extended"'
	corpus 40 5 # forty files changed at once
	run "$VZ" build --json
	assert_output --partial '"index":"built"'
	[ "$(segments)" -eq 0 ]
	[ ! -e "$D/cache.delta" ] # cache.bin written whole
	vectors_exact
}

@test "segments and deltas of a workspace collection: bit flips found by verify, not trusted by the next build; backup and restore carry them" {
	"$VZ" build -q
	printf '# Changed\nw001 w002 fresh words\n' > p/f0001.md
	"$VZ" build -q
	[ "$(segments)" -eq 1 ]
	printf '# Again\nw003 fresh words again\n' > "$BATS_TEST_TMPDIR/again"
	# the answers of a full build of the tree the next build sees
	cp p/f0002.md "$BATS_TEST_TMPDIR/f0002" && cp "$BATS_TEST_TMPDIR/again" p/f0002.md
	VZ_DATA_DIR="$BATS_TEST_TMPDIR/full" "$VZ" build -q
	cp "$BATS_TEST_TMPDIR/f0002" p/f0002.md
	run "$VZ" backup p/docs -o "$BATS_TEST_TMPDIR/b.tar.zst"
	assert_success
	want=$(json_text_answers; vector_answers)
	cp -a "$VZ_DATA_DIR" "$BATS_TEST_TMPDIR/good"
	[ -f "$D/cache.delta" ]
	[ -f "$D/postings.delta" ]
	for file in seg-2.vec seg-2.hnsw cache.delta postings.delta; do
		rm -rf "$VZ_DATA_DIR" && cp -a "$BATS_TEST_TMPDIR/good" "$VZ_DATA_DIR"
		size=$(stat -c %s "$D/$file")
		byte=$(od -An -tu1 -j $((size - 9)) -N1 "$D/$file" | tr -d ' ')
		printf "\\$(printf '%03o' $((byte ^ 16)))" | dd of="$D/$file" bs=1 seek=$((size - 9)) conv=notrunc 2>/dev/null
		run "$VZ" verify p/docs
		assert_failure 1
		[[ "$output" == *"$file: body checksum mismatch"* ]] || [[ "$output" == *"$file: offset 32: body checksum mismatch"* ]] || fail "$output"
		cp "$BATS_TEST_TMPDIR/again" p/f0002.md
		run "$VZ" build --json
		assert_success
		assert_output --partial '"index":"built"'
		run "$VZ" verify p/docs
		assert_success
		[ "$(segments)" -eq 0 ]
		[ ! -e "$D/$file" ]
		[ "$(json_text_answers)" = "$(VZ_DATA_DIR="$BATS_TEST_TMPDIR/full" json_text_answers)" ] || fail "after damage to $file: --text answers differ"
	done
	# a damaged header of postings.delta: named, not trusted either
	rm -rf "$VZ_DATA_DIR" && cp -a "$BATS_TEST_TMPDIR/good" "$VZ_DATA_DIR"
	printf 'Z' | dd of="$D/postings.delta" bs=1 seek=20 conv=notrunc 2>/dev/null
	run "$VZ" verify p/docs
	assert_failure 1
	assert_output --partial "postings.delta: "
	run "$VZ" query p/docs --text "fresh words"
	assert_failure 65
	cp "$BATS_TEST_TMPDIR/again" p/f0002.md
	run "$VZ" build --json
	assert_output --partial '"index":"built"'
	run "$VZ" verify p/docs
	assert_success
	[ ! -e "$D/postings.delta" ]
	[ "$(json_text_answers)" = "$(VZ_DATA_DIR="$BATS_TEST_TMPDIR/full" json_text_answers)" ]
	cp "$BATS_TEST_TMPDIR/f0002" p/f0002.md
	# a listed segment that is missing
	rm -rf "$VZ_DATA_DIR" && cp -a "$BATS_TEST_TMPDIR/good" "$VZ_DATA_DIR"
	rm "$D/seg-2.vec"
	run "$VZ" verify p/docs
	assert_failure 1
	assert_output --partial "seg-2.vec: missing (metadata.json lists it)"
	# restore brings the segment back, with the answers it had
	rm -rf "$VZ_DATA_DIR" && mkdir -p "$VZ_DATA_DIR"
	run "$VZ" restore "$BATS_TEST_TMPDIR/b.tar.zst"
	assert_success
	[ -f "$D/seg-2.vec" ] && [ -f "$D/seg-2.hnsw" ]
	cmp "$D/postings.delta" "$BATS_TEST_TMPDIR/good/workspace/p/docs/postings.delta"
	cmp "$D/cache.delta" "$BATS_TEST_TMPDIR/good/workspace/p/docs/cache.delta"
	run "$VZ" verify p/docs
	assert_success
	[ "$(json_text_answers; vector_answers)" = "$want" ]
	run "$VZ" verify p/docs --quick
	assert_success
	# --quick reads the deltas' headers: a torn one is named
	for file in postings.delta cache.delta; do
		cp "$D/$file" "$BATS_TEST_TMPDIR/keep"
		truncate -s -5 "$D/$file"
		run "$VZ" verify p/docs --quick
		assert_failure 1
		assert_output --partial "$file: offset 24: body length"
		cp "$BATS_TEST_TMPDIR/keep" "$D/$file"
	done
	run "$VZ" verify p/docs --quick
	assert_success
}

# A crash and a power cut at each of the first $last I/O calls of `vz build`, each from the data
# directory saved in $BATS_TEST_TMPDIR/before: the answers (the caller's answers function) are
# $old or $new, verify is clean (or names only cache.bin a generation behind), and the next build
# gives $new with verify clean; both kinds leave the old answers at least once, a crash the new.
build_crashes_leave_old_or_new() {
	local kind n olds news now
	for kind in crash powercut; do
		olds=0 news=0
		for ((n = 1; n <= last; n++)); do
			rm -rf "$VZ_DATA_DIR" && cp -a "$BATS_TEST_TMPDIR/before" "$VZ_DATA_DIR"
			run env VZ_FAULT="$n:$kind" "$VZ" build -q
			[ "$status" -eq 137 ] || fail "build under VZ_FAULT=$n:$kind exited $status: $output"
			# a crash after the commit and before cache.bin leaves cache.bin a generation behind,
			# which verify names and the next build mends; nothing else may be wrong
			run "$VZ" verify p/docs
			[ "$status" -eq 0 ] || [[ "$output" == *"cache.bin: offset 16: generation "*" (an older copy?)"* ]] || fail "after VZ_FAULT=$n:$kind: $output"
			now=$(answers)
			if [ "$now" = "$old" ]; then olds=$((olds + 1)); elif [ "$now" = "$new" ]; then news=$((news + 1)); else fail "after VZ_FAULT=$n:$kind the answers are neither the old nor the new ones"; fi
			run "$VZ" build -q
			assert_success
			run "$VZ" verify p/docs
			assert_success
			[ "$(answers)" = "$new" ] || fail "after VZ_FAULT=$n:$kind and a build: other answers"
		done
		[ "$olds" -gt 0 ] || fail "$kind: never the old answers"
		[ "$news" -gt 0 ] || [ "$kind" = powercut ] || fail "$kind: never the new answers"
	done
}

@test "a crash or power cut at each I/O call of an incremental build: the old or the new answers, verify clean, the next build mends it" {
	"$VZ" build -q
	cp -a "$VZ_DATA_DIR" "$BATS_TEST_TMPDIR/before"
	vector_answers > /dev/null # the query vectors, kept in $BATS_TEST_TMPDIR/queries
	# the answers to those same vectors, whatever files there are now
	answers() {
		json_text_answers
		while read -r q; do "$VZ" query p/docs --vector "$q" -k 5 --json; done < "$BATS_TEST_TMPDIR/queries"
	}
	old=$(answers)
	printf '# Changed\nw001 w002 fresh words\n' > p/f0001.md
	rm p/f0002.md
	VZ_IO_TRACE="$BATS_TEST_TMPDIR/trace" "$VZ" build -q
	[ "$(segments)" -eq 1 ]
	new=$(answers)
	last=$(wc -l < "$BATS_TEST_TMPDIR/trace")
	[ "$last" -gt 5 ]
	build_crashes_leave_old_or_new
	for kind in EIO ENOSPC; do
		rm -rf "$VZ_DATA_DIR" && cp -a "$BATS_TEST_TMPDIR/before" "$VZ_DATA_DIR"
		run env VZ_FAULT="1:$kind" "$VZ" build -q
		assert_equal "$status" 74
		run "$VZ" verify p/docs
		assert_success
		[ "$(answers)" = "$old" ]
	done
}

@test "a crash or power cut at each I/O call of the ninth (folding) build, which writes postings.bin whole and drops postings.delta: the old or the new answers, verify clean, the next build mends it" {
	rm -rf p && mkdir p
	corpus 60 7
	"$VZ" build -q
	for i in 1 2 3 4 5 6 7 8; do
		printf '# Changed %d\nw%03d fresh words %d\n' $i $((i + 100)) $i > "p/f000$i.md"
		"$VZ" build -q
	done
	[ "$(segments)" -eq 8 ]
	[ -f "$D/postings.delta" ]
	cp -a "$VZ_DATA_DIR" "$BATS_TEST_TMPDIR/before"
	answers() { for q in "fresh words" "w101 w050" "file w399"; do "$VZ" query p/docs --text "$q" -k 5 --json; done; }
	old=$(answers)
	printf '# Ninth\nw009 fresh words nine\n' > p/f0009.md
	VZ_IO_TRACE="$BATS_TEST_TMPDIR/trace" "$VZ" build -q
	[ "$(segments)" -eq 0 ]
	[ ! -e "$D/postings.delta" ]
	new=$(answers)
	[ "$new" != "$old" ]
	last=$(wc -l < "$BATS_TEST_TMPDIR/trace")
	[ "$last" -gt 5 ]
	build_crashes_leave_old_or_new
	for kind in EIO ENOSPC; do
		for n in 1 $((last / 2)) $last; do
			rm -rf "$VZ_DATA_DIR" && cp -a "$BATS_TEST_TMPDIR/before" "$VZ_DATA_DIR"
			run env VZ_FAULT="$n:$kind" "$VZ" build -q
			assert_equal "$status" 74
			run "$VZ" verify p/docs
			assert_success
			[ "$(answers)" = "$old" ] || [ "$(answers)" = "$new" ] || fail "after VZ_FAULT=$n:$kind: neither the old nor the new answers"
			# at the first call nothing is changed
			[ "$n" -ne 1 ] || { [ "$(answers)" = "$old" ] && [ "$(ls "$D")" = "$(ls "$BATS_TEST_TMPDIR/before/workspace/p/docs")" ]; } || fail "VZ_FAULT=1:$kind changed the collection"
		done
	done
}

# the bytes the command "$@" writes (wchar of /proc/self/io counts the reaped child's writes)
bytes_written() {
	python3 -c 'import subprocess, sys
def w(): return int([l for l in open("/proc/self/io") if l.startswith("wchar")][0].split()[1])
a = w(); subprocess.run(sys.argv[1:], check=True, stdout=subprocess.DEVNULL); print(w() - a)' "$@"
}

@test "an incremental build after one change writes under 5% of the bytes of a full build (postings.bin and cache.bin stay)" {
	rm -rf p && mkdir p
	python3 - <<'PY'
import random
r = random.Random(3)
vocab = ["w%04d" % i for i in range(3000)]
for i in range(400):
    with open("p/f%04d.md" % i, "w") as f:
        f.write("# File %d\n%s\n" % (i, " ".join(r.choice(vocab) for _ in range(300))))
PY
	full=$(bytes_written "$VZ" build -q)
	"$VZ" checkpoint p/docs --wait -q # the graph, which the build left to it
	before=$(stat -c '%i %Y %s' "$D/postings.bin" "$D/cache.bin" "$D/vectors.bin")
	echo "w0001 one more line" >> p/f0007.md
	one=$(bytes_written "$VZ" build -q)
	[ "$(stat -c '%i %Y %s' "$D/postings.bin" "$D/cache.bin" "$D/vectors.bin")" = "$before" ]
	[ -f "$D/postings.delta" ] && [ -f "$D/cache.delta" ]
	[ "$full" -gt 3000000 ] || fail "a full build wrote only $full bytes"
	[ $((one * 20)) -lt "$full" ] || fail "one change: $one bytes written, a full build $full"
}

@test "a committed postings.delta.new (a crash before its rename) is read; a crash, power cut or I/O error at each I/O call of the next build (a delta over a delta) leaves the old or the new answers" {
	"$VZ" build -q
	printf '# Changed\nw001 w002 fresh words\n' > p/f0001.md
	"$VZ" build -q
	mv "$D/postings.delta" "$D/postings.delta.new"
	run "$VZ" verify p/docs
	assert_success
	answers() { for q in "fresh words" "w001 w003" "file w399"; do "$VZ" query p/docs --text "$q" -k 5 --json; done; }
	old=$(answers)
	cp -a "$VZ_DATA_DIR" "$BATS_TEST_TMPDIR/before"
	printf '# Again\nw003 fresh words again\n' > p/f0002.md
	VZ_IO_TRACE="$BATS_TEST_TMPDIR/trace" "$VZ" build -q
	[ -f "$D/postings.delta" ] && [ ! -e "$D/postings.delta.new" ]
	new=$(answers)
	last=$(wc -l < "$BATS_TEST_TMPDIR/trace")
	for kind in crash powercut EIO; do
		for ((n = 1; n <= last; n++)); do
			rm -rf "$VZ_DATA_DIR" && cp -a "$BATS_TEST_TMPDIR/before" "$VZ_DATA_DIR"
			run env VZ_FAULT="$n:$kind" "$VZ" build -q
			if [ $kind = EIO ]; then want=74; else want=137; fi
			[ "$status" -eq $want ] || fail "build under VZ_FAULT=$n:$kind exited $status: $output"
			now=$(answers)
			[ "$now" = "$old" ] || [ "$now" = "$new" ] || fail "after VZ_FAULT=$n:$kind the answers are neither the old nor the new ones"
			run "$VZ" verify p/docs
			[ "$status" -eq 0 ] || [[ "$output" == *"cache.bin: offset 16: generation "*" (an older copy?)"* ]] || fail "after VZ_FAULT=$n:$kind: $output"
		done
	done
	run "$VZ" build -q
	assert_success
	[ "$(answers)" = "$new" ]
}
