#!/usr/bin/env bats
# Text search of workspace collections from postings.bin: ranking quality on real documents
# (man pages rendered at test time), results per file with path:LINE and a snippet, identical
# files grouped, --chunks, and the file's place in verify, crashes, backups and builds.
load helper

setup() {
	workspace_p_docs
}

@test "search quality: task questions find the right man page in the top 3 (>= 0.85)" {
	command -v mandoc >/dev/null || skip "mandoc is not installed"
	rm -rf p
	n=$(python3 "$ROOT/tests/cli/lib/man-corpus.py" p)
	[ "$n" -ge 150 ] || fail "only $n man pages rendered"
	"$VZ" build -q
	run python3 "$ROOT/tests/cli/lib/text-eval.py" p "$ROOT/tests/fixtures/textsearch/man-questions.tsv" --vz "$VZ" p/docs
	assert_success
	echo "$output ($n pages)" >&3
	hits=${output##*(}; hits=${hits%%/*}; total=${output##*/}; total=${total%%)*}
	[ "$total" -ge 40 ] || fail "only $total questions have their page here"
	[ $((hits * 100)) -ge $((total * 85)) ] || fail "$output"
	# 49 questions written before any ranking was looked at: measured 0.86 (FTS5 bm25() 0.71)
	run python3 "$ROOT/tests/cli/lib/text-eval.py" p "$ROOT/tests/fixtures/textsearch/man-questions-heldout.tsv" --vz "$VZ" p/docs
	assert_success
	echo "held out: $output" >&3
	rate_at_least 76
}

# "vz top-3 hit rate R (HITS/N)" of text-eval.py's line for system $1 in $output: HITS and N
hits_of() {
	local l
	l=$(grep "^$1 top-3" <<<"$output") || fail "no line for $1 in: $output"
	l=${l##*(}
	H=${l%%/*}
	N=${l##*/}
	N=${N%%)*}
}

# vz's hits in $output are at least $1 per cent of the questions
rate_at_least() {
	hits_of vz
	[ $((H * 100)) -ge $((N * $1)) ] || fail "under $1%: $output"
}

@test "search quality: task questions find the right C header in the top 3, at least as often as FTS5's bm25()" {
	command -v dpkg >/dev/null || skip "dpkg is not installed"
	python3 -c 'import sqlite3; sqlite3.connect(":memory:").execute("CREATE VIRTUAL TABLE t USING fts5(x)")' 2>/dev/null || skip "python3's sqlite3 has no FTS5"
	rm -rf p
	n=$(python3 "$ROOT/tests/cli/lib/header-corpus.py" p)
	[ "$n" -ge 150 ] || skip "only $n headers of libc6-dev here"
	"$VZ" build -q
	run python3 "$ROOT/tests/cli/lib/text-eval.py" p "$ROOT/tests/fixtures/textsearch/header-questions.tsv" --want include/%s --vz "$VZ" p/docs --fts5
	assert_success
	echo "$(tr '\n' ' ' <<<"$output")($n headers)" >&3
	# measured 0.81 (42/52) against FTS5's 0.73 and 0.71 on 240 headers: 5 and 4 questions of margin
	rate_at_least 72
	vz=$H
	[ "$N" -ge 40 ] || fail "only $N questions have their header here"
	hits_of fts5-bm25
	[ "$vz" -ge "$H" ] || fail "below FTS5: $output"
	hits_of fts5-bm25-name-head-5x
	[ "$vz" -ge "$H" ] || fail "below FTS5 with the name and head weighted: $output"
}

@test "results are per file: best chunk as path:LINE with a snippet, identical files once, --chunks lists chunks" {
	mkdir -p p/a p/b p/c
	{ echo "# Notes"; for i in $(seq 1 60); do echo "filler line $i about gardening and weather"; done; echo "the zeppelin moored above the harbour at dawn"; for i in $(seq 1 60); do echo "more filler $i on gardening"; done; } > p/long.md
	printf '# Airships\nA zeppelin is a rigid airship.\n' > p/a/ship.md
	cp p/a/ship.md p/b/ship.md
	cp p/a/ship.md p/c/ship.md
	printf '# Other\nnothing to see\n' > p/other.md
	"$VZ" build -q
	run "$VZ" query p/docs --text "zeppelin harbour"
	assert_success
	assert_line --regexp $'^[0-9.]+\tlong.md:62\t\.\.\..*the zeppelin moored above the harbour at dawn'
	assert_line --regexp $'^[0-9.]+\ta/ship.md:2\t.*A zeppelin is a rigid airship\.\t\(\+2 identical: b/ship.md c/ship.md\)$'
	[ "${#lines[@]}" -eq 2 ]
	run "$VZ" query p/docs --text "moored harbour" --json -k 1
	assert_output --regexp '^\{"path":"long.md","line":62,"id":"long.md#[0-9]+","score":[0-9.]+,"text":".*zeppelin moored.*"\}$'
	run "$VZ" query p/docs --text "gardening" --chunks -k 100
	assert_success
	[ "${#lines[@]}" -ge 3 ] || fail "expected every chunk of long.md: $output"
	for l in "${lines[@]}"; do [[ "$l" == *$'\tlong.md:'* ]] || fail "not a chunk of long.md: $l"; done
	run "$VZ" query p/docs --text "gardening" -k 100
	[ "${#lines[@]}" -eq 1 ]
	# a path too long for a row id: the row is named by its hash, the snippet still shows
	long=$(printf 'd%.0s' $(seq 1 120))
	mkdir -p "p/$long/$long"
	printf '# Deep\na wombat lives down here\n' > "p/$long/$long/deep.md"
	"$VZ" build -q
	run "$VZ" query p/docs --text "wombat"
	assert_output --regexp $'^[0-9.]+\t'"$long/$long"$'/deep.md:2\t# Deep a wombat lives down here$'
	run "$VZ" query p/docs --vector '[1]' --chunks
	assert_equal "$status" 64
	run "$VZ" query p/docs --text "the of and"
	assert_equal "$status" 65
	assert_output --partial "no words"
}

@test "snippets never carry raw control characters" {
	printf '# Esc\nbold\033[1mterminal\033[0m and b\bbell\007 and carriage\rreturn quokka\n' > p/ctl.md
	# DEL, C1 controls as UTF-8 (CSI U+009B, U+0085), bytes that are not UTF-8
	printf 'del\177ete csi\302\233[2J nel\302\205 bad \377\376 and \300\257 wombat terminal\n' > p/c1.md
	printf 'a nul\000byte makes this file binary: wombat\n' > p/nul.md
	"$VZ" build -q
	c1=$'\302'[$'\200'-$'\237']
	for args in "" "--chunks" "--json"; do
		run "$VZ" query p/docs --text "quokka terminal" $args
		assert_success
		[[ "$output" != *[$'\001'-$'\010'$'\013'-$'\037'$'\177']* ]] || fail "control characters in ($args): $(printf '%q' "$output")"
		[[ "$output" != *$c1* ]] || fail "C1 control characters in ($args): $(printf '%q' "$output")"
		assert_output --partial "quokka"
		assert_output --partial "wombat"
		refute_output --partial "nul.md"
	done
	# the text form escapes them as octal, JSON as \u00XX; bytes that are not UTF-8 are U+FFFD
	run "$VZ" query p/docs --text "del wombat"
	assert_output --regexp $'^[0-9.]+\tc1.md:1\tdel\\\\177ete csi\\\\302\\\\233\\[2J nel\\\\302\\\\205 bad \xef\xbf\xbd\xef\xbf\xbd and \xef\xbf\xbd\xef\xbf\xbd wombat terminal$'
	run "$VZ" query p/docs --text "wombat" --json
	assert_output --partial '"text":"del\u007fete csi\u009b[2J nel\u0085 bad '$'\xef\xbf\xbd\xef\xbf\xbd'' and '
	run "$VZ" verify p/docs
	assert_success
	# a dynamic text collection prints its snippets the same way
	"$VZ" create notes --embedding bm25 --dim 64 -q
	"$VZ" insert notes --text $'a bell\007 rings\033[2J for the quokka' --id n1 -q
	run "$VZ" query notes --text "quokka bell"
	assert_success
	[[ "$output" != *[$'\001'-$'\010'$'\013'-$'\037'$'\177']* ]] || fail "control characters in: $(printf '%q' "$output")"
	assert_output --partial "quokka"
}

@test "path:LINE and the snippet point at the passage with the most query terms, not the first one" {
	# the shape of README.md's recipes: a recovery note that says "restore from a backup" once,
	# then, in the same chunk, the restore procedure
	{
		echo "# Recipes"
		echo "vz recover docs --mode salvage      # keep every readable transaction"
		echo "# damage to metadata.json makes it exit 1 with \"restore from a backup\", changing nothing."
		echo "vz dump docs > docs.jsonl           # the manual path: dump, edit, load"
		for i in 1 2 3 4 5 6; do echo "# note $i on the write-ahead log, checkpoints and tombstones in general"; done
		echo "Disaster recovery from the nightly backups:"
		echo "vz verify --backup \"\$b\"             # checks the archive first"
		echo "vz restore \"\$b\" docs --force        # one collection"
		echo "vz restore \"\$b\" --force             # or every collection in the archive"
	} > p/README.md
	"$VZ" build -q
	# (the procedure's heading, "...the nightly backups:", meets "backup" through its stem)
	run "$VZ" query p/docs --text "how do I restore a backup" -k 1
	assert_success
	assert_output --regexp $'^[0-9.]+\tREADME.md:11\t\.\.\.Disaster recovery from the nightly backups: vz verify --backup'
	run "$VZ" query p/docs --text "how do I restore a backup" --json -k 1
	assert_output --regexp '^\{"path":"README.md","line":11,'
	# one match only: the first one, as before
	run "$VZ" query p/docs --text "salvage" -k 1
	assert_output --regexp $'^[0-9.]+\tREADME.md:2\t'
}

@test "verify checks postings.bin; a damaged one is reported and refused by queries" {
	printf '# Backups\nCopy the archive to another disk every night.\n' > p/backup.md
	"$VZ" build -q
	D="$VZ_DATA_DIR/workspace/p/docs"
	[ -f "$D/postings.bin" ]
	run "$VZ" verify p/docs
	assert_success
	cp "$D/postings.bin" "$BATS_TEST_TMPDIR/good"
	size=$(stat -c %s "$D/postings.bin")
	printf 'Z' | dd of="$D/postings.bin" bs=1 seek=$((size - 3)) conv=notrunc 2>/dev/null
	run "$VZ" verify p/docs
	assert_failure 1
	assert_output --partial "postings.bin: offset 32: body checksum mismatch"
	cp "$BATS_TEST_TMPDIR/good" "$D/postings.bin"
	printf 'Z' | dd of="$D/postings.bin" bs=1 seek=2 conv=notrunc 2>/dev/null
	run "$VZ" query p/docs --text "archive disk"
	assert_equal "$status" 65
	assert_output --partial "postings.bin"
	"$VZ" build -q --force
	run "$VZ" verify p/docs
	assert_success
}

@test "a crash at every I/O call of an incremental build leaves the old or the new answer; postings.bin always verifies" {
	for i in 1 2 3 4 5; do printf '# Note %d\nplain words number %d\n' $i $i > p/n$i.md; done
	"$VZ" build -q
	cp -a "$VZ_DATA_DIR" "$BATS_TEST_TMPDIR/template"
	n=1
	while :; do
		rm -rf "$VZ_DATA_DIR"; cp -a "$BATS_TEST_TMPDIR/template" "$VZ_DATA_DIR"
		printf '# Note 3\nthe platypus lays eggs\n' > p/n3.md
		VZ_FAULT="$n:crash" "$VZ" build -q && break
		[ $? -eq 137 ] || fail "build under VZ_FAULT=$n:crash exited $?"
		# (a crash between the snapshot's commit and cache.bin leaves cache.bin a generation
		# behind, which verify reports and the next build mends; postings.bin never lags)
		run "$VZ" verify p/docs
		[ "$status" -eq 0 ] || [[ "$output" == *"cache.bin: offset 16: generation "*" (an older copy?)"* ]] || fail "after a crash at call $n: $output"
		refute_output --partial "postings.bin"
		run "$VZ" query p/docs --text "platypus number" -k 1
		assert_success
		[[ "$output" == *$'\tn3.md:2\t# Note 3 the platypus lays eggs' ]] || [[ "$output" == *$'\tn'[0-9]$'.md:2\t# Note '[0-9]' plain words number '[0-9] ]] || fail "after a crash at call $n: $output"
		"$VZ" build -q
		run "$VZ" query p/docs --text "platypus" -k 1
		assert_output --regexp $'\tn3.md:2\t# Note 3 the platypus lays eggs$'
		run "$VZ" verify p/docs
		assert_success
		n=$((n + 1))
	done
	[ "$n" -gt 5 ]
}

@test "an incremental build takes no damage over from the files it extends" {
	for i in $(seq 1 20); do printf '# Note %d\nwords about topic %d and a heron\n' $i $i > p/n$i.md; done
	"$VZ" build -q
	D="$VZ_DATA_DIR/workspace/p/docs"
	for file in postings.bin vectors.bin index.hnsw; do
		# a bit flip in the body, then one file changes
		size=$(stat -c %s "$D/$file")
		byte=$(od -An -tu1 -j $((size / 2)) -N1 "$D/$file" | tr -d ' ')
		printf "\\$(printf '%03o' $((byte ^ 4)))" | dd of="$D/$file" bs=1 seek=$((size / 2)) conv=notrunc 2>/dev/null
		run "$VZ" verify p/docs
		assert_failure 1
		assert_output --partial "$file"
		echo "and an egret near $file" >> p/n5.md
		run "$VZ" build --json
		# postings.bin: the kept files tokenized again; the others: the snapshot written whole
		if [ "$file" = postings.bin ]; then want=extended; else want=built; fi
		assert_output --partial "\"read\":1,\"index\":\"$want\""
		run "$VZ" verify p/docs
		assert_success
		"$VZ" query p/docs --text "heron topic egret" -k 20 --json > "$BATS_TEST_TMPDIR/inc"
		cp -a "$VZ_DATA_DIR" "$BATS_TEST_TMPDIR/keep"
		"$VZ" build -q --force
		"$VZ" query p/docs --text "heron topic egret" -k 20 --json > "$BATS_TEST_TMPDIR/full"
		cmp "$BATS_TEST_TMPDIR/inc" "$BATS_TEST_TMPDIR/full"
		rm -rf "$VZ_DATA_DIR" && mv "$BATS_TEST_TMPDIR/keep" "$VZ_DATA_DIR"
	done
}

@test "postings.bin travels in backups; a no-change build leaves it alone" {
	printf '# Backups\nCopy the archive to another disk every night.\n' > p/backup.md
	"$VZ" build -q
	D="$VZ_DATA_DIR/workspace/p/docs"
	before=$(stat -c '%i %Y' "$D/postings.bin")
	run "$VZ" build
	assert_output --regexp '^p/docs: 1 file, 0 changed, 0 added, 0 removed'
	assert_equal "$(stat -c '%i %Y' "$D/postings.bin")" "$before"
	"$VZ" backup p/docs -o "$BATS_TEST_TMPDIR/b.tar.zst" -q
	tar --zstd -tf "$BATS_TEST_TMPDIR/b.tar.zst" | grep -q 'workspace/p/docs/postings.bin$'
	rm -rf "$D"
	"$VZ" restore "$BATS_TEST_TMPDIR/b.tar.zst" -q
	run "$VZ" query p/docs --text "archive night"
	assert_success
	assert_output --regexp $'^[0-9.]+\tbackup.md:2\t# Backups Copy the archive'
}

@test "processing.text_search weights rank fields; a change rewrites only postings.bin; bad values are refused" {
	printf '# Gardening\nNothing about boats here.\n' > p/garden.md
	{ printf '# Boats\n'; for i in $(seq 1 40); do echo "hull $i"; done; echo 'A page on gardening, gardening and more gardening.'; } > p/boats.md
	"$VZ" build -q
	D="$VZ_DATA_DIR/workspace/p/docs"
	run "$VZ" query p/docs --text "gardening" -k 1
	assert_output --regexp $'\tgarden.md:1\t'
	vectors=$(stat -c '%i' "$D/vectors.bin") postings=$(stat -c '%i' "$D/postings.bin")
	printf 'projects:\n  - name: p\n    path: p\n    collections:\n      - name: docs\n        processing:\n          text_search: { body_weight: 2.5, title_weight: 0, k1: 1.2, b: 0, path_weight: 1 }\n' > vectorize-workspace.yml
	run "$VZ" build
	assert_output --regexp '^p/docs: 2 files, 0 changed, 0 added, 0 removed'
	assert_equal "$(stat -c '%i' "$D/vectors.bin")" "$vectors"
	[ "$(stat -c '%i' "$D/postings.bin")" != "$postings" ]
	run "$VZ" query p/docs --text "gardening" -k 1
	assert_output --regexp $'\tboats.md:42\t'
	printf 'projects:\n  - name: p\n    path: p\n    collections:\n      - name: docs\n        processing:\n          text_search: { b: 1.5 }\n' > vectorize-workspace.yml
	run "$VZ" build
	assert_equal "$status" 78
	assert_output --partial "vectorize-workspace.yml:7:"
	assert_output --partial "b 1.5 out of range 0..1"
	printf 'projects:\n  - name: p\n    path: p\n    collections:\n      - name: docs\n        processing:\n          text_search: { title_weight: heavy }\n' > vectorize-workspace.yml
	run "$VZ" build
	assert_equal "$status" 78
	assert_output --partial "title_weight must be a number, not 'heavy'"
}

@test "a no-change build reads no source file; after one change it reads that one file only" {
	command -v strace >/dev/null || skip "strace is not installed"
	# (LeakSanitizer cannot run under ptrace: the ASan build is traced without it)
	for i in $(seq 1 30); do printf '# Note %d\nwords about topic %d\n' $i $i > p/n$i.md; done
	printf 'binary\0data' > p/blob.md
	"$VZ" build -q
	ASAN_OPTIONS=detect_leaks=0 strace -f -e trace=openat -o "$BATS_TEST_TMPDIR/st" "$VZ" build
	run grep -c '/p/n[0-9]*\.md"' "$BATS_TEST_TMPDIR/st"
	assert_output 0
	echo "and a lighthouse" >> p/n7.md
	ASAN_OPTIONS=detect_leaks=0 strace -f -e trace=openat -o "$BATS_TEST_TMPDIR/st" "$VZ" build
	run grep -o '/p/[a-z0-9]*\.md"' "$BATS_TEST_TMPDIR/st"
	assert_output '/p/n7.md"'
	run "$VZ" query p/docs --text lighthouse
	assert_output --regexp $'^[0-9.]+\tn7.md:3\t'
	touch p/n8.md
	run "$VZ" build
	assert_output --regexp '^p/docs: 30 files, 0 changed, 0 added, 0 removed'
}

@test "a text query opens no index.hnsw and maps each file once: it answers with the graph damaged or gone, a vector query does not" {
	for i in $(seq 1 12); do printf '# Note %d\nwords about lighthouse number %d\n' $i $i > p/n$i.md; done
	printf '# Harbour\nthe ferry leaves the harbour at noon\n' > p/ferry.md
	"$VZ" build -q
	D="$VZ_DATA_DIR/workspace/p/docs"
	if command -v strace >/dev/null; then
		ASAN_OPTIONS=detect_leaks=0 strace -e trace=openat,mmap -o "$BATS_TEST_TMPDIR/st" "$VZ" query p/docs --text "ferry harbour" -k 1
		run grep -c 'index\.hnsw' "$BATS_TEST_TMPDIR/st"
		assert_output 0
		# the header of each data file is read, then the file is mapped once
		run grep -c 'mmap(.*MAP_SHARED, [0-9]*, 0)' "$BATS_TEST_TMPDIR/st"
		assert_output 2
	fi
	cp "$D/index.hnsw" "$BATS_TEST_TMPDIR/good"
	printf 'Z' | dd of="$D/index.hnsw" bs=1 seek=2 conv=notrunc 2>/dev/null
	run "$VZ" query p/docs --text "ferry harbour" -k 1
	assert_success
	assert_output --regexp $'^[0-9.]+\tferry.md:1\t'
	run "$VZ" query p/docs --vector "[$(printf '0,%.0s' $(seq 1 511))1]" -k 1
	assert_equal "$status" 65
	assert_output --partial "index unusable"
	rm "$D/index.hnsw"
	run "$VZ" query p/docs --text "ferry harbour" -k 1
	assert_success
	assert_output --regexp $'^[0-9.]+\tferry.md:1\t'
	cp "$BATS_TEST_TMPDIR/good" "$D/index.hnsw"
	run "$VZ" verify p/docs
	assert_success
}

@test "files are read on every core with the same bytes as on one; the workspace graph is built at ef_construction 80 unless the file says" {
	command -v taskset >/dev/null || skip "taskset is not installed"
	for i in $(seq 1 80); do printf '# Note %d\nwords about topic %d and more words %d\n' $i $i $((i * 7)) > p/n$i.md; done
	printf 'binary\0data' > p/blob.md
	VZ_DATA_DIR="$BATS_TEST_TMPDIR/one" taskset -c 0 "$VZ" build -q
	"$VZ" build -q
	A="$BATS_TEST_TMPDIR/one/workspace/p/docs" B="$VZ_DATA_DIR/workspace/p/docs"
	cmp "$A/postings.bin" "$B/postings.bin"
	# past the header (and, in cache.bin, the collection's random id) the files are the same
	cmp <(tail -c +81 "$A/cache.bin") <(tail -c +81 "$B/cache.bin")
	cmp <(tail -c +65 "$A/vectors.bin") <(tail -c +65 "$B/vectors.bin")
	cmp <(tail -c +65 "$A/index.hnsw") <(tail -c +65 "$B/index.hnsw")
	run "$VZ" info p/docs --json
	assert_output --partial '"ef_construction":80,'
	printf 'projects:\n  - name: p\n    path: p\n    collections:\n      - name: docs\n        indexing: { ef_construction: 120 }\n' > vectorize-workspace.yml
	run "$VZ" build
	assert_success
	assert_output --partial "80 files"
	run "$VZ" info p/docs --json
	assert_output --partial '"ef_construction":120,'
}
