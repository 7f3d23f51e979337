#!/usr/bin/env bats
# shell.bats: vz as a shell user's tool (issue 19): quiet cron jobs, one query format for
# --batch, errors that name what is wrong, progress only on a terminal, dump formats and
# compressed input, and human output (sorted list, plurals, 80 columns, one JSON key).
load helper

# Runs a command and fails the test if it printed anything at all, as cron would mail it.
silent() {
	local out
	out=$("$@" 2>&1) || { echo "$out"; return 1; }
	[ -z "$out" ] || fail "printed on a quiet run: $out"
}

# Runs a command on a pseudo-terminal (stdout and stderr), as a person at a terminal would.
on_tty() { script -qec "$*" /dev/null </dev/null | tr -d '\r'; }

# The README's crontab lines, with the backup directory in the test's own tree.
readme_cron() { sed -n '/^```cron$/,/^```$/p' "$ROOT/README.md" | grep -E '^[0-9]' | sed -E 's/^([^ ]+ +){5}//'; }

@test "the README's crontab lines print nothing when all is well, and speak up after damage" {
	jsonl 200 8 1 > "$BATS_TEST_TMPDIR/a.jsonl"
	"$VZ" create a --dim 8 -q && "$VZ" insert a "$BATS_TEST_TMPDIR/a.jsonl" -q
	"$VZ" create b --dim 8 -q
	run readme_cron
	assert_equal "${#lines[@]}" 3
	local bk="$BATS_TEST_TMPDIR/bk"
	while IFS= read -r line; do
		line=${line//\/var\/backups\/vz/$bk}
		silent bash -c "PATH='$(dirname "$VZ"):$PATH'; $line"
	done < <(readme_cron)
	assert_equal "$(ls "$bk" | wc -l)" 1
	# again within the same second: still silent, and the names sort by time
	silent "$VZ" backup --all --dir "$bk" --keep 7 -q
	silent "$VZ" backup --all --dir "$bk" --keep 7 -q
	run bash -c "ls '$bk' | tail -n 1"
	assert_equal "$output" "$(ls -t "$bk" | head -n 1)"
	# --auto from a workspace file's backup section
	mkdir -p "$BATS_TEST_TMPDIR/ws/p" && echo 'the nightly backup' > "$BATS_TEST_TMPDIR/ws/p/a.md"
	printf 'projects:\n  - name: p\n    path: p\n    collections:\n      - name: docs\nbackup:\n  directory: %s\n  keep: 2\n' "$bk/auto" \
		> "$BATS_TEST_TMPDIR/ws/vectorize-workspace.yml"
	(cd "$BATS_TEST_TMPDIR/ws" && silent "$VZ" build -q && silent "$VZ" backup --auto -q)
	assert_equal "$(ls "$bk/auto" | wc -l)" 1
	# damage: verify -q says what is wrong on stdout and exits 1; the others go on quietly
	"$VZ" checkpoint a -q
	printf 'x' | dd of="$VZ_DATA_DIR/dynamic/a/vectors.bin" bs=1 seek=200 conv=notrunc 2>/dev/null
	run "$VZ" verify --all -q
	assert_equal "$status" 1
	assert_output --partial "a: vectors.bin"
	run "$VZ" checkpoint --all --if-needed -q
	assert_success
	assert_output ""
}

@test "-v says what was done and how long it took; -q and plain runs do not" {
	jsonl 10 4 > "$BATS_TEST_TMPDIR/a.jsonl"
	"$VZ" create a --dim 4 -q
	run --separate-stderr "$VZ" insert a "$BATS_TEST_TMPDIR/a.jsonl" -v
	assert_success
	[[ "$stderr" == *"a: 10 rows written through the WAL"* ]] || fail "$stderr"
	[[ "$stderr" =~ exit\ 0\ after\ [0-9.]+\ s ]] || fail "$stderr"
	run --separate-stderr "$VZ" checkpoint a -v
	[[ "$stderr" == *"a: 10 rows in its files"*"holding the lock"* ]] || fail "$stderr"
	run --separate-stderr "$VZ" -v verify a
	[[ "$stderr" == *"a: full check in"* ]] || fail "$stderr"
	run "$VZ" verify a -q
	assert_output ""
}

@test "query --batch takes the README's queries.jsonl as written, lines without ids, bare arrays, .fvecs and .npy alike" {
	cd "$BATS_TEST_TMPDIR"
	mkdir batches
	printf '%s\n' '{"id":"a","vector":[1,0,0],"payload":{"t":"x"}}' '{"id":"b","vector":[0,1,0]}' > batches/1.jsonl
	printf '%s\n' '{"id":"c","vector":[0,0,1]}' > batches/2.jsonl
	printf '%s\n' '{"vector":[1,0.1,0]}' '{"vector":[0,0.2,1]}' > queries.jsonl
	# the README's recipe, every line of it, as written
	sed -n '/^A shell loop that inserts and queries/,/^```$/p' "$ROOT/README.md" | sed -n '/^```sh$/,/^```$/p' | grep -v '^```' > recipe.sh
	grep -q -- '--batch queries.jsonl' recipe.sh || fail "the README's recipe has no --batch line"
	run env PATH="$(dirname "$VZ"):$PATH" bash -e recipe.sh
	assert_success
	assert_line '{"query":0,"id":null,"results":[{"id":"a","score":0.9950372},{"id":"b","score":0.099503696},{"id":"c","score":0}]}'
	assert_line '{"query":1,"id":null,"results":[{"id":"c","score":0.9805807},{"id":"b","score":0.19611615},{"id":"a","score":0}]}'
	# with ids: the results carry them; text output is one line a hit with its score
	printf '%s\n' '{"id":"q-x","vector":[1,0.1,0]}' '[0,0.2,1]' > mixed.jsonl
	run "$VZ" query docs --batch mixed.jsonl -k 1
	assert_output $'q-x\t0.9950372\ta\n1\t0.9805807\tc'
	run "$VZ" query docs --batch mixed.jsonl -k 1 --json
	assert_line --index 0 '{"query":0,"id":"q-x","results":[{"id":"a","score":0.9950372}]}'
	# the same vectors from jq, .fvecs and .npy: the same answers, numbered from 0
	jq -c .vector queries.jsonl > arrays.jsonl
	python3 -c '
import struct, sys
rows = [[1, 0.1, 0], [0, 0.2, 1]]
open("q.fvecs", "wb").write(b"".join(struct.pack("<i3f", 3, *r) for r in rows))
h = "{\x27descr\x27: \x27<f4\x27, \x27fortran_order\x27: False, \x27shape\x27: (2, 3), }"
h += " " * (63 - (10 + len(h)) % 64) + "\n"
open("q.npy", "wb").write(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(h)) + h.encode() + b"".join(struct.pack("<3f", *r) for r in rows))'
	want=$("$VZ" query docs --batch queries.jsonl -k 2)
	for f in arrays.jsonl q.fvecs q.npy; do
		run "$VZ" query docs --batch "$f" -k 2
		assert_output "$want"
	done
	run bash -c "cat q.npy | '$VZ' query docs --batch - --format npy -k 2"
	assert_output "$want"
	# a query of the wrong dimension, and broken JSON naming its line and column
	run "$VZ" query docs --batch <(echo '[1,0]')
	assert_equal "$status" 65
	assert_output --partial "dimension 2, the collection has 3"
	run "$VZ" query docs --batch <(printf '[1,0,0]\n{"vector":[1,0,0],}\n')
	assert_equal "$status" 65
	assert_output --partial "line 2: '\"' expected (column 19)"
}

@test "errors name the argument, key or column and say what to do" {
	run "$VZ" create
	assert_equal "$status" 64
	assert_line --index 0 "vz create: missing argument NAME"
	run "$VZ" create x --dim 3 --metric l2
	assert_equal "$status" 64
	assert_line --index 0 "vz create: --metric: 'l2' is not one of: cosine euclidean dot_product; did you mean 'euclidean'?"
	run "$VZ" --data-dri "$VZ_DATA_DIR" list
	assert_equal "$status" 64
	assert_line --index 0 "vz: unknown global option '--data-dri'; did you mean '--data-dir'?"
	run "$VZ" --json list
	assert_line --index 0 "vz: unknown global option '--json' (command options go after the command)"
	"$VZ" create docs --dim 3 -q
	run "$VZ" query docs --vector '[1,0,'
	assert_equal "$status" 65
	assert_output "vz query: --vector: the array ends after value 2: a number or ']' expected"
	run "$VZ" delete docs zz
	assert_equal "$status" 66
	assert_output "vz delete: cannot delete id 'zz': no such id"
	run "$VZ" insert docs <(printf '{"id":"a","vector":[1,0,0]} x\n')
	assert_equal "$status" 65
	assert_output --partial "line 1: trailing characters after the object (column 29)"
	# a byte order mark from a Windows editor is not an error
	printf '\xef\xbb\xbf{"id":"bom","vector":[1,0,0]}\n' > "$BATS_TEST_TMPDIR/bom.jsonl"
	run "$VZ" insert docs "$BATS_TEST_TMPDIR/bom.jsonl" -q
	assert_success
	run "$VZ" get docs bom
	assert_success
	# a missing workspace collection: its full name, and vz build when the workspace declares it
	mkdir -p "$BATS_TEST_TMPDIR/w/p"
	printf 'projects:\n  - name: p\n    path: p\n    collections:\n      - name: docs\n        include_patterns: ["*.md"]\n' > "$BATS_TEST_TMPDIR/w/vectorize-workspace.yml"
	for cmd in "query p/docs --vector [1]" "info p/docs" "dump p/docs"; do
		run bash -c "cd '$BATS_TEST_TMPDIR/w' && '$VZ' $cmd"
		assert_equal "$status" 66
		assert_output --partial "no such collection: p/docs is declared in $BATS_TEST_TMPDIR/w/vectorize-workspace.yml but not built: run vz build"
	done
	run "$VZ" info nope
	assert_equal "$status" 66
	assert_output "vz info: no such collection: nope (vz list shows the collections; vz create makes one)"
	# a data directory that is not there lists nothing: say so
	run env VZ_DATA_DIR="$BATS_TEST_TMPDIR/typo" "$VZ" list
	assert_equal "$status" 66
	assert_output "vz list: data directory $BATS_TEST_TMPDIR/typo (VZ_DATA_DIR environment variable) does not exist"
	run env -u VZ_DATA_DIR XDG_DATA_HOME="$BATS_TEST_TMPDIR/fresh" bash -c "cd / && \"$VZ\" list" # the default, not made yet: empty
	assert_success
	assert_output ""
	[ ! -e "$BATS_TEST_TMPDIR/typo" ]
}

@test "progress is drawn on a terminal for long work, never in a pipe or with -q" {
	command -v script >/dev/null || fail "script(1) (util-linux) is needed"
	jsonl 3000 16 > "$BATS_TEST_TMPDIR/a.jsonl"
	"$VZ" create a --dim 16 -q
	run on_tty "VZ_AUTO_CHECKPOINT=off '$VZ' insert a '$BATS_TEST_TMPDIR/a.jsonl'"
	assert_success
	assert_output --regexp 'vz insert: writing \[#* *\] [0-9]+/3000'
	# the bar is erased: what follows it on the line is the command's own message
	[[ "$output" == *$'\033[K'"vz insert: a: 3000 inserted"* ]] || fail "not erased: $output"
	run on_tty "'$VZ' checkpoint a"
	assert_output --regexp 'vz checkpoint: indexing \[#* *\] [0-9]+/3000'
	run on_tty "'$VZ' verify a"
	assert_output --regexp 'vz verify: verifying \[#* *\] [0-9]+/[0-9]+'
	run on_tty "'$VZ' backup a -o '$BATS_TEST_TMPDIR/a.tar.zst'"
	assert_output --regexp 'vz backup: archiving \[#* *\] [0-9]+/[0-9]+'
	run on_tty "'$VZ' restore '$BATS_TEST_TMPDIR/a.tar.zst' --as b"
	assert_output --regexp 'vz restore: restoring \[#* *\] [0-9]+/[0-9]+'
	"$VZ" dump a -q > "$BATS_TEST_TMPDIR/a.dump"
	run on_tty "'$VZ' load c '$BATS_TEST_TMPDIR/a.dump'"
	assert_output --regexp 'vz load: (writing|indexing) \['
	# silent: -q on a terminal, and any run whose stderr is not one
	run on_tty "'$VZ' verify a -q"
	assert_output ""
	run --separate-stderr "$VZ" checkpoint b
	[[ "$stderr" != *"["* ]] || fail "a bar on a pipe: $stderr"
}

@test "dump writes JSON lines, plain rows, .npy, .fvecs and CSV; insert and load read each back, compressed too" {
	cd "$BATS_TEST_TMPDIR"
	"$VZ" create a --dim 3 --metric euclidean -q
	printf '%s\n' '{"id":"17","vector":[0.5,0.25,1e-8],"payload":{"n":1}}' '{"id":"x,\"y\"","vector":[1,2,3]}' \
		'{"id":"plain","vector":[-1,0,3.4028235e38]}' | "$VZ" insert a - -q
	"$VZ" dump a -q > full.jsonl
	"$VZ" dump a --no-config -q > rows.jsonl
	assert_equal "$(head -n 1 full.jsonl | cut -c1-11)" '{"vz_dump":'
	assert_equal "$(tail -n +2 full.jsonl)" "$(cat rows.jsonl)"
	run "$VZ" dump a --format csv -q
	assert_line --index 0 'id,v0,v1,v2'
	assert_line --index 1 '"17",0.5,0.25,1e-08'
	assert_line --index 2 '"x,""y""",1,2,3'
	"$VZ" dump a --format csv -q > a.csv
	"$VZ" dump a --format fvecs --ids fv.ids -o a.fvecs -q
	"$VZ" dump a --format npy --ids np.ids -o a.npy -q
	assert_equal "$(cat fv.ids)" "$(printf '17\nx,"y"\nplain')"
	# each back in through insert, bit for bit (ids of .fvecs and .npy are row numbers)
	for f in full.jsonl rows.jsonl a.csv; do
		"$VZ" create "r-${f%%.*}" --dim 3 --metric euclidean -q
		"$VZ" insert "r-${f%%.*}" "$f" -q
		cmp <("$VZ" dump a --no-config -q | jq -c 'del(.payload)') <("$VZ" dump "r-${f%%.*}" --no-config -q | jq -c 'del(.payload)')
	done
	cmp <("$VZ" dump a --no-config -q) <("$VZ" dump r-rows --no-config -q)
	for f in a.fvecs a.npy; do
		"$VZ" create "r-${f#a.}" --dim 3 --metric euclidean -q
		"$VZ" insert "r-${f#a.}" "$f" -q
		cmp "$f" <("$VZ" dump "r-${f#a.}" --format "${f#a.}" -q)
	done
	# compressed: by suffix, by --format, and by magic bytes on a pipe; load too
	zstd -q full.jsonl -o full.jsonl.zst && gzip -k rows.jsonl && gzip -c a.csv > a.csv.gz
	"$VZ" load z full.jsonl.zst -q
	cmp <("$VZ" dump a -q) <("$VZ" dump z -q)
	"$VZ" create g --dim 3 --metric euclidean -q
	"$VZ" insert g rows.jsonl.gz -q
	"$VZ" insert g a.csv.gz --upsert -q
	"$VZ" insert g - --format jsonl.gz --upsert -q < rows.jsonl.gz
	zstd -qc rows.jsonl | "$VZ" insert g - --upsert -q
	cmp <("$VZ" dump a --no-config -q) <("$VZ" dump g --no-config -q)
	# a damaged or cut-short stream is refused naming the file and offset; nothing is written
	before=$(snapshot)
	head -c 40 full.jsonl.zst > cut.jsonl.zst
	run "$VZ" insert g cut.jsonl.zst --upsert
	assert_equal "$status" 65
	assert_output "vz insert: cut.jsonl.zst: offset 40: the zstd stream is cut short"
	printf '\x1f\x8bgarbage' > bad.gz
	run "$VZ" insert g bad.gz
	assert_equal "$status" 65
	assert_output --partial "bad.gz: offset"
	assert_equal "$(snapshot)" "$before"
	run "$VZ" dump a --format csv --no-config
	assert_equal "$status" 64
	run "$VZ" dump a --format csv --ids x
	assert_equal "$status" 64
}

@test "human output: sorted list with columns sized to their content, plurals, help within 80 columns" {
	"$VZ" create zeta --dim 3 -q
	"$VZ" create alpha --dim 3 -q
	local long=a-collection-name-longer-than-the-old-thirty-two-columns
	"$VZ" create "$long" --dim 1024 --metric dot_product -q
	echo '{"id":"a","vector":[1,0,0]}' | "$VZ" insert zeta - -q
	run "$VZ" list
	assert_line --index 0 --regexp '^NAME +KIND +DIM +METRIC +VECTORS +WAL_OPS +BYTES +STATE$'
	assert_line --index 1 --regexp '^a-collection-name-longer-than-the-old-thirty-two-columns  dynamic  1024  dot_product  +0 +0 +[0-9]+  ok$'
	assert_line --index 2 --regexp '^alpha  +dynamic  +3  cosine  '
	assert_line --index 3 --regexp '^zeta  +dynamic  +3  cosine  +1  +1  '
	# every line of every help within 80 columns
	local c
	for c in $("$VZ" __complete ''); do
		run bash -c "'$VZ' $c --help | awk 'length > 80'"
		assert_output ""
	done
	run bash -c "'$VZ' --help | awk 'length > 80'"
	assert_output ""
	run --separate-stderr "$VZ" checkpoint zeta
	assert_equal "$stderr" "vz checkpoint: zeta: folded 1 operation; generation 1, 1 live vector"
	run "$VZ" version
	assert_output --regexp '^vz [0-9.]+ \(format 3, backup format 1\)$'
}

@test "every --json output names the collection \"collection\" and says null for what is missing" {
	"$VZ" create a --dim 3 -q
	run "$VZ" create b --dim 3 --json
	assert_output '{"collection":"b","dim":3,"metric":"cosine","m":16,"ef_construction":200,"ef_search":64,"quantization":"none","embedding":null}'
	run "$VZ" info a --json
	python3 -c 'import json,sys; o=json.loads(sys.argv[1]); assert o["collection"]=="a" and o["last_checkpoint"] is None and o["embedding"] is None and "name" not in o, o' "$output"
	echo '{"id":"x","vector":[1,0,0]}' > "$BATS_TEST_TMPDIR/x.jsonl"
	local out
	for cmd in "list --json" "insert a $BATS_TEST_TMPDIR/x.jsonl --json" "checkpoint a --json" "verify a --json" \
		"export a --to qdrant -o $BATS_TEST_TMPDIR/q --json" "backup a -o $BATS_TEST_TMPDIR/a.tar.zst --json" \
		"restore $BATS_TEST_TMPDIR/a.tar.zst --as c --json" "drop c --json" "drop b --no-backup --json"; do
		out=$("$VZ" $cmd) || fail "$cmd failed"
		python3 -c '
import json, sys
for line in sys.argv[2].splitlines():
    o = json.loads(line)
    if sys.argv[1].startswith("backup"): continue  # an archive, named by "backup"
    assert "collection" in o and "name" not in o and "restored" not in o, (sys.argv[1], o)
    assert "" not in o.values() and "never" not in o.values(), (sys.argv[1], o)' "$cmd" "$out"
	done
	run "$VZ" drop b --json
	assert_equal "$status" 66
	"$VZ" dump a -q > "$BATS_TEST_TMPDIR/a.dump"
	run "$VZ" load d "$BATS_TEST_TMPDIR/a.dump" --json
	assert_output --regexp '^\{"collection":"d","inserted":1,'
	run "$VZ" drop d --no-backup --json
	assert_output '{"collection":"d","safety_backup":null}'
}
