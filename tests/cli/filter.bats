#!/usr/bin/env bats
# vz query --where: payload filters against a brute-force oracle on random payloads and random
# expressions (tests/cli/lib/filter-oracle.py), with rows in the WAL, after a checkpoint, after
# updates and deletes; both plans (exact scan, graph); bad expressions; --batch; workspace rows.
load helper

ORACLE="$BATS_TEST_DIRNAME/lib/filter-oracle.py"
Q='[0.1,-0.2,0.3,0.5,-1,0.7,0.2,0.05]'

# A collection: rows of the oracle written straight into a checkpoint (--bulk), then more rows,
# updates (ids of the first rows) and deletes (the last rows) in the WAL.
setup_history() { # N
	local n=$1 t=$BATS_TEST_TMPDIR
	"$VZ" create f --dim 8 --metric euclidean -q
	python3 "$ORACLE" rows "$n" 1 r >"$t/base.jsonl"
	python3 "$ORACLE" rows $((n / 10)) 2 w >"$t/wal.jsonl"
	# updates of some base rows (new vector and payload: ids r0.. again) and deletes of the last ones
	python3 "$ORACLE" rows $((n / 20)) 3 r >"$t/upd.jsonl"
	seq $((n - n / 20)) $((n - 1)) | sed 's/^/r/' >"$t/del.txt"
	"$VZ" insert f "$t/base.jsonl" --bulk -q
	"$VZ" insert f "$t/wal.jsonl" -q
	"$VZ" update f "$t/upd.jsonl" -q
	"$VZ" delete f --file "$t/del.txt" -q
	HISTORY=("ins:$t/base.jsonl" "ins:$t/wal.jsonl" "upd:$t/upd.jsonl" "del:$t/del.txt")
}

@test "filters agree with the oracle: exact scans on a small collection, with the WAL, updates and deletes" {
	setup_history 400
	run "$VZ" info f --json
	assert_output --partial '"wal_ops":'
	refute_output --partial '"wal_ops":0,'
	run python3 "$ORACLE" check "$VZ" f 11 40 exact "${HISTORY[@]}"
	assert_success
	assert_output --regexp '^40 expressions: 40 exact'
	# the same answers once everything is checkpointed
	"$VZ" checkpoint f -q
	run python3 "$ORACLE" check "$VZ" f 11 40 exact "${HISTORY[@]}"
	assert_success
}

@test "filters agree with the oracle: the graph search keeps recall >= 0.95 against the filtered truth" {
	setup_history 6000
	"$VZ" checkpoint f -q
	python3 "$ORACLE" rows 100 5 z >"$BATS_TEST_TMPDIR/z.jsonl"
	"$VZ" insert f "$BATS_TEST_TMPDIR/z.jsonl" -q
	HISTORY+=("ins:$BATS_TEST_TMPDIR/z.jsonl")
	run python3 "$ORACLE" check "$VZ" f 12 50 graph "${HISTORY[@]}"
	assert_success
	echo "# $output" >&3
}

@test "a bad expression exits 64 naming the column and what was expected, and prints no results" {
	"$VZ" create f --dim 8 -q
	bad=(
		'lang = c' "column 8: expected a value (a \"string\", a number, true, false or null), found 'c'"
		'lang' 'column 5: expected an operator (=, !=, <, <=, >, >=, in, not in, exists, not exists), found the end of the expression'
		'stars >= true' 'column 10: expected a number or a string'
		'(a = 1' "column 7: expected ')'"
		'a = 1 b = 2' "column 7: expected 'and', 'or' or the end of the expression, found 'b'"
		'a in (1 2)' "column 9: expected ',' or ')', found '2'"
		'' 'column 1: expected a payload key'
	)
	for ((i = 0; i < ${#bad[@]}; i += 2)); do
		run "$VZ" query f --vector "$Q" --where "${bad[i]}"
		assert_equal "$status" 64
		assert_line --index 0 --partial "vz query: --where: ${bad[i + 1]}"
		refute_output --regexp $'[0-9.]+\t'
	done
	run "$VZ" query f --text 'hello' --where 'a = 1'
	assert_equal "$status" 64
	assert_output --partial -- '--where goes with --vector or --batch'
	# a bad expression is refused before the collection is looked for
	run "$VZ" query nosuch --vector "$Q" --where 'a ='
	assert_equal "$status" 64
}

@test "a filter matching nothing prints nothing; one matching everything answers as no filter" {
	setup_history 300
	run "$VZ" query f --vector "$Q" -k 5 --where 'nokey exists'
	assert_success
	assert_output ''
	run "$VZ" query f --vector "$Q" -k 5 --where 'a = 1 and a = 2' --json
	assert_success
	assert_output ''
	# the unfiltered answer with an ef past the row count: the graph search is then exhaustive,
	# as the exact scan that a filter matching every row of a small collection takes (a graph
	# built on two threads may miss a neighbour at the default ef)
	want=$("$VZ" query f --vector "$Q" -k 7 --json --ef 400)
	[ -n "$want" ]
	run "$VZ" query f --vector "$Q" -k 7 --json --where 'nokey not exists'
	assert_success
	assert_output "$want"
	run "$VZ" query f --vector "$Q" -k 7 --json --where 'not (a exists and not a exists)'
	assert_output "$want"
}

@test "--json results keep their form with a filter, and --batch filters every query" {
	"$VZ" create f --dim 2 --metric euclidean -q
	printf '%s\n' '{"id":"a","vector":[0,0],"payload":{"lang":"c","stars":5}}' \
		'{"id":"b","vector":[0,1],"payload":{"lang":"go","stars":50}}' \
		'{"id":"c","vector":[1,1],"payload":{"lang":"c","stars":500}}' \
		'{"id":"d","vector":[2,2]}' | "$VZ" insert f - -q
	run "$VZ" query f --vector '[0,0]' -k 10 --json --where 'lang = "c" and stars >= 10'
	assert_success
	assert_output '{"id":"c","score":1.4142135,"payload":{"lang":"c","stars":500}}'
	run "$VZ" query f --vector '[0,0]' -k 10 --where 'lang != "c"'
	assert_success
	assert_line --index 0 $'1\tb\t{"lang":"go","stars":50}'
	assert_line --index 1 $'2.828427\td'
	assert_equal "${#lines[@]}" 2
	# three queries as .fvecs: (0,0), (2,2), (0,1)
	python3 -c 'import struct, sys; sys.stdout.buffer.write(b"".join(struct.pack("<iff", 2, *q) for q in ((0, 0), (2, 2), (0, 1))))' >"$BATS_TEST_TMPDIR/q.fvecs"
	printf '%s\n' '[0,0]' '[2,2]' '[0,1]' >"$BATS_TEST_TMPDIR/q.txt"
	run "$VZ" query f --batch "$BATS_TEST_TMPDIR/q.fvecs" -k 2 --json --where 'stars in (5, 500)'
	assert_success
	assert_line --index 0 --regexp '^\{"query":0,("id":null,)?"results":\[\{"id":"a","score":0(\.0)?\},\{"id":"c","score":1\.4142135\}\]\}$'
	assert_line --index 1 --regexp '"query":1,("id":null,)?"results":\[\{"id":"c","score":1\.4142135\},\{"id":"a","score":2\.828427\}\]'
	assert_line --index 2 --regexp '"query":2,("id":null,)?"results":\[\{"id":"a","score":1\},\{"id":"c","score":1\}\]'
	# each batch line is what the same single query answers
	"$VZ" checkpoint f -q
	for i in 0 1 2; do
		v=$(sed -n "$((i + 1))p" "$BATS_TEST_TMPDIR/q.txt")
		single=$("$VZ" query f --vector "$v" -k 2 --json --where 'stars in (5, 500)' | sed 's/,"payload":[^}]*}//' | paste -sd, -)
		run "$VZ" query f --batch "$BATS_TEST_TMPDIR/q.fvecs" -k 2 --json --where 'stars in (5, 500)'
		assert_line --index "$i" --partial "\"results\":[$single]"
	done
}

@test "an update that changes the payload, and a delete, change what a filter returns, in the WAL and after a checkpoint" {
	"$VZ" create f --dim 2 --metric euclidean -q
	printf '%s\n' '{"id":"a","vector":[0,0],"payload":{"t":"x"}}' '{"id":"b","vector":[0,1],"payload":{"t":"x"}}' \
		'{"id":"c","vector":[1,1],"payload":{"t":"y"}}' | "$VZ" insert f - -q
	"$VZ" checkpoint f -q
	run "$VZ" query f --vector '[0,0]' --where 't = "x"'
	assert_output $'0\ta\t{"t":"x"}\n1\tb\t{"t":"x"}'
	echo '{"id":"a","vector":[0,0],"payload":{"t":"y"}}' | "$VZ" update f - -q
	"$VZ" delete f b -q
	echo '{"id":"n","vector":[3,3],"payload":{"t":"x"}}' | "$VZ" insert f - -q
	for round in wal checkpointed; do
		run "$VZ" query f --vector '[0,0]' --where 't = "x"'
		assert_success
		assert_output $'4.2426405\tn\t{"t":"x"}'
		run "$VZ" query f --vector '[0,0]' --where 't = "y"'
		assert_output $'0\ta\t{"t":"y"}\n1.4142135\tc\t{"t":"y"}'
		"$VZ" checkpoint f -q
	done
}

@test "a workspace collection's chunks filter on their path" {
	W="$BATS_TEST_TMPDIR/ws"
	mkdir -p "$W"
	cp -r "$ROOT/tests/fixtures/workspace/proj" "$W/proj"
	cp "$ROOT/tests/fixtures/workspace/simplified.yml" "$W/vectorize-workspace.yml"
	cd "$W"
	"$VZ" build -q
	# the vector of the first chunk (line 2 of the dump; line 1 is the configuration)
	v=$("$VZ" dump proj/docs | sed -n 2p | python3 -c 'import json, sys; print(json.dumps(json.load(sys.stdin)["vector"]))')
	run "$VZ" query proj/docs --vector "$v" -k 10 --json
	assert_success
	all=${#lines[@]}
	[ "$all" -ge 2 ]
	path=$(echo "${lines[0]}" | python3 -c 'import json, sys; print(json.load(sys.stdin)["payload"]["path"])')
	run "$VZ" query proj/docs --vector "$v" -k 10 --json --where "path = \"$path\" and chunk >= 0"
	assert_success
	same=${#lines[@]}
	[ "$same" -ge 1 ] && [ "$same" -lt "$all" ]
	for l in "${lines[@]}"; do [[ $l == *"\"path\":\"$path\""* ]]; done
	run "$VZ" query proj/docs --vector "$v" -k 10 --json --where "path != \"$path\""
	assert_success
	assert_equal "${#lines[@]}" $((all - same))
	for l in "${lines[@]}"; do [[ $l != *"\"path\":\"$path\""* ]]; done
}

@test "a held lock makes a filtered query wait and fail with 75; a damaged payload is read within bounds and verify names it" {
	"$VZ" create f --dim 2 --metric euclidean -q
	printf '%s\n' '{"id":"a","vector":[0,0],"payload":{"t":"x","u":"aaaa"}}' '{"id":"b","vector":[0,1],"payload":{"t":"x","u":"bbbb"}}' |
		"$VZ" insert f - -q
	"$VZ" checkpoint f -q
	flock -o "$VZ_DATA_DIR/dynamic/f/LOCK" sleep 10 &
	holder=$!
	for i in $(seq 1 200); do flock -n -s "$VZ_DATA_DIR/dynamic/f/LOCK" true || break; sleep 0.05; done
	# a reader shares the lock with readers: an exclusive holder stands for a writer mid-switch
	run "$VZ" --lock-timeout 200 query f --vector '[0,0]' --where 't = "x"'
	assert_equal "$status" 75
	assert_output --partial 'locked by process'
	refute_output --partial $'\ta\t'
	kill $holder; wait $holder 2>/dev/null || true
	# a's payload loses its closing quotes and brace: the filter reads what is well formed
	at=$(grep -boa '"u":"aaaa"}' "$VZ_DATA_DIR/dynamic/f/vectors.bin" | cut -d: -f1)
	[ -n "$at" ]
	printf '"u":"aaaa\\\\' | dd of="$VZ_DATA_DIR/dynamic/f/vectors.bin" bs=1 seek="$at" conv=notrunc status=none
	run "$VZ" query f --vector '[0,0]' --where 'u = "aaaa"'
	assert_success
	assert_output ''
	run "$VZ" query f --vector '[0,0]' --where 'u = "bbbb" or u exists'
	assert_success
	assert_output $'1\tb\t{"t":"x","u":"bbbb"}'
	run "$VZ" verify f
	assert_equal "$status" 1
	assert_output --partial 'vectors.bin'
}
