#!/usr/bin/env bats
# Dynamic collections created with the built-in embedding: texts inserted with --text or as
# JSON lines with "text", queried with --text; the refusals around them.
load helper

setup() {
	"$VZ" create notes --dim 256 --embedding bm25 -q
}

@test "insert --text stores the text as the payload and query --text finds it first" {
	run "$VZ" insert notes --text "restoring a backup after a disk failure" --id n1
	assert_success
	assert_output --partial "notes: 1 inserted"
	"$VZ" insert notes --text "the cat sat on the warm mat" --id n2 -q
	run "$VZ" query notes --text "cat on a mat" -k 1 --json
	assert_success
	assert_output --regexp '^\{"id":"n2","score":[0-9.]+,"payload":\{"text":"the cat sat on the warm mat"\}\}$'
	run "$VZ" query notes --text "disk failure backup" -k 1
	assert_line --regexp $'^[0-9.]+\tn1\trestoring a backup after a disk failure$'
	[ -f "$VZ_DATA_DIR/dynamic/notes/terms.bin" ]
	run "$VZ" verify notes
	assert_success
}

@test "insert --text keeps a given payload, escapes the text, and takes the id from --id" {
	"$VZ" insert notes --text 'a "quoted" word and a tab	here' --id 'q 1' --payload '{"tag":["x",1]}' -q
	run "$VZ" get notes 'q 1' --json
	assert_success
	assert_output --partial '"payload":{"tag":["x",1]}'
	"$VZ" insert notes --text 'a "quoted" text' --id q2 -q
	run "$VZ" get notes q2 --json
	assert_output --partial '"payload":{"text":"a \"quoted\" text"}'
}

@test "JSON lines with text go through insert, update and apply as one transaction each" {
	printf '%s\n' '{"id":"a","text":"apples and pears in the orchard"}' '{"id":"b","text":"engines and gearboxes","payload":{"k":2}}' |
		"$VZ" insert notes -q
	run "$VZ" query notes --text "orchard apples" -k 1 --json
	assert_output --partial '"id":"a"'
	echo '{"id":"b","text":"orchard cherries and plums"}' | "$VZ" update notes -q
	run "$VZ" query notes --text "cherries plums" -k 1 --json
	assert_output --partial '"id":"b"'
	printf '%s\n' '{"op":"insert","id":"c","text":"submarine periscope sonar"}' '{"op":"delete","id":"a"}' | "$VZ" apply notes -q
	run "$VZ" query notes --text "sonar" -k 1 --json
	assert_output --partial '"id":"c"'
	run "$VZ" get notes a
	assert_equal "$status" 66
	run "$VZ" checkpoint notes -q
	assert_success
	run "$VZ" query notes --text "sonar" -k 1 --json
	assert_output --partial '"id":"c"'
}

@test "the document frequencies survive, and a text query gets the same answer in a fresh process" {
	for i in 1 2 3 4 5; do "$VZ" insert notes --text "common words $i plus rare$i" --id "d$i" -q; done
	run "$VZ" query notes --text "rare3" -k 1 --json
	assert_output --partial '"id":"d3"'
	first=$output
	run "$VZ" query notes --text "rare3" -k 1 --json
	assert_equal "$output" "$first"
}

@test "text refusals: no --id, a FILE beside --text, --id without --text, bad payload, no embedding, both vector and text" {
	before=$(snapshot)
	run "$VZ" insert notes --text "some words"
	assert_equal "$status" 64
	assert_output --partial "--text needs --id ID"
	echo '{}' > "$BATS_TEST_TMPDIR/f.jsonl"
	run "$VZ" insert notes "$BATS_TEST_TMPDIR/f.jsonl" --text "some words" --id x
	assert_equal "$status" 64
	assert_output --partial "give no FILE"
	run "$VZ" insert notes --id x
	assert_equal "$status" 64
	assert_output --partial "--id and --payload go with --text"
	run "$VZ" insert notes --text "some words" --id x --payload '{bad'
	assert_equal "$status" 65
	assert_output --partial "--payload: not one valid JSON value"
	run "$VZ" insert notes --text "some words" --id ""
	assert_equal "$status" 65
	assert_output --partial "empty id"
	run "$VZ" insert notes --text "   " --id x
	assert_equal "$status" 65
	assert_output --partial "no words"
	run "$VZ" insert notes - <<< '{"id":"x","vector":[1,2],"text":"words"}'
	assert_equal "$status" 65
	assert_output --partial 'line 1: both "vector" and "text"'
	assert_equal "$(snapshot)" "$before"
	"$VZ" create plain --dim 4 -q
	before=$(snapshot)
	run "$VZ" insert plain --text "some words" --id x
	assert_equal "$status" 64
	assert_output --partial "plain has no built-in embedding"
	run "$VZ" insert plain - <<< '{"id":"x","text":"some words"}'
	assert_equal "$status" 64
	run "$VZ" query plain --text "words"
	assert_equal "$status" 64
	assert_equal "$(snapshot)" "$before"
}

@test "an existing id is refused for a text insert unless --upsert" {
	"$VZ" insert notes --text "first words" --id x -q
	run "$VZ" insert notes --text "second words" --id x
	assert_equal "$status" 73
	run "$VZ" insert notes --text "second words" --id x --upsert
	assert_success
	run "$VZ" get notes x --json
	assert_output --partial '"payload":{"text":"second words"}'
}

@test "a crash at every I/O call of a text insert leaves the rows all there or none" {
	"$VZ" insert notes --text "seed document words" --id s -q
	cp -a "$VZ_DATA_DIR" "$BATS_TEST_TMPDIR/base"
	n=1
	while :; do
		rm -rf "$VZ_DATA_DIR" && cp -a "$BATS_TEST_TMPDIR/base" "$VZ_DATA_DIR"
		run env VZ_FAULT="$n:crash" "$VZ" insert notes --text "crash test words" --id c
		[ "$status" -ne 0 ] || break
		run "$VZ" get notes c --json
		[ "$status" -eq 0 ] || [ "$status" -eq 66 ]
		run "$VZ" verify notes
		assert_success
		n=$((n + 1))
		[ "$n" -lt 60 ]
	done
	run "$VZ" query notes --text "crash test" -k 1 --json
	assert_output --partial '"id":"c"'
}

@test "text queries rank exactly with BM25 over the texts, and a dumped and loaded collection answers the same" {
	printf '%s\n' '{"id":"a","text":"the quick brown fox"}' '{"id":"b","text":"a brown dog sleeps"}' \
		'{"id":"c","text":"brown brown bread"}' '{"id":"d","text":"zebra crossing"}' '{"id":"e","text":"the same text"}' \
		'{"id":"f","text":"the same text"}' | "$VZ" insert notes -q
	"$VZ" checkpoint notes -q
	"$VZ" insert notes --text "a fox in the snow" --id g -q   # in the WAL only
	"$VZ" delete notes b -q
	run "$VZ" query notes --text "fox" --json
	assert_success
	# exact terms: only the rows with "fox", the one of fewer terms first; no hashing collisions
	[ "${#lines[@]}" -eq 2 ]
	assert_line --index 0 --partial '"id":"g"'
	assert_line --index 1 --partial '"id":"a"'
	# the same terms as a workspace's: "foxes" meets "fox" through its stem
	run "$VZ" query notes --text "foxes" --json
	[ "${#lines[@]}" -eq 2 ]
	assert_line --index 0 --partial '"id":"g"'
	run "$VZ" query notes --text "submarine"
	assert_success
	assert_output ""
	run "$VZ" query notes --text "brown" --json
	[ "${#lines[@]}" -eq 2 ]   # b is deleted
	assert_line --index 0 --partial '"id":"c"'
	for q in fox brown "same text" "zebra fox"; do "$VZ" query notes --text "$q" --json; done > "$BATS_TEST_TMPDIR/before"
	"$VZ" dump notes -o "$BATS_TEST_TMPDIR/notes.jsonl"
	"$VZ" load copy "$BATS_TEST_TMPDIR/notes.jsonl"
	for q in fox brown "same text" "zebra fox"; do "$VZ" query copy --text "$q" --json; done > "$BATS_TEST_TMPDIR/after"
	run diff "$BATS_TEST_TMPDIR/before" "$BATS_TEST_TMPDIR/after"
	assert_success
	[ "$(wc -l < "$BATS_TEST_TMPDIR/after")" -eq 9 ]
}
