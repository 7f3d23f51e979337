#!/usr/bin/env bats
# Collections written by vz before files carried the collection id (format version 1, the
# fixtures in tests/fixtures/v1, made by that vz) keep opening, verify clean, take writes, and
# get their identity at the next checkpoint (dynamic) or build (workspace), as vz-format(5) says.
load helper

setup() {
	mkdir -p "$VZ_DATA_DIR"
	cp -a "$BATS_TEST_DIRNAME/../fixtures/v1/dynamic" "$BATS_TEST_DIRNAME/../fixtures/v1/workspace" "$VZ_DATA_DIR/"
}

id_of() { sed -n 's/.*"collection_id": "\([0-9a-f]*\)".*/\1/p' "$VZ_DATA_DIR/$1/metadata.json"; }

@test "a dynamic collection of format version 1 opens, verifies, takes writes, and is upgraded by its next checkpoint" {
	run "$VZ" verify old
	assert_success
	run "$VZ" dump old
	assert_success
	assert_line '{"id":"t1","vector":[0,0,1,0],"payload":{"text":"checkpoint replay salvage"}}'
	assert_line '{"id":"t5","vector":[-1,0,0,0],"payload":{"text":"neighbour cosine text"}}'
	refute_output --partial '"t2"'
	run "$VZ" query old --text "neighbour" -k 1
	assert_success
	assert_output --partial t5
	assert_equal "$(id_of dynamic/old)" ""
	# (the fixture's log is older than checkpoint_seconds: this insert may checkpoint already)
	run "$VZ" insert old --text "one more text" --id t6
	assert_success
	run "$VZ" checkpoint old
	assert_success
	local id
	id=$(id_of dynamic/old)
	[[ $id =~ ^[0-9a-f]{32}$ ]]
	grep -q '"format_version": 2' "$VZ_DATA_DIR/dynamic/old/metadata.json"
	# every file now carries the id: version 2 headers (byte 8)
	for f in vectors.bin index.hnsw wal.log; do
		[ "$(od -An -tu4 -j8 -N4 "$VZ_DATA_DIR/dynamic/old/$f" | tr -d ' ')" = 2 ]
	done
	run "$VZ" verify old
	assert_success
	run "$VZ" dump old
	assert_success
	assert_line '{"id":"t1","vector":[0,0,1,0],"payload":{"text":"checkpoint replay salvage"}}'
	assert_line --partial '{"id":"t6"'
	# terms.bin of version 1 is an older copy now that metadata.json names the collection: the
	# next text saves it as version 2, and a copy of the old one is refused
	run "$VZ" insert old --text "and another" --id t7
	assert_success
	[ "$(od -An -tu4 -j8 -N4 "$VZ_DATA_DIR/dynamic/old/terms.bin" | tr -d ' ')" = 2 ]
	run "$VZ" verify old
	assert_success
	cp "$BATS_TEST_DIRNAME/../fixtures/v1/dynamic/old/vectors.bin" "$VZ_DATA_DIR/dynamic/old/vectors.bin"
	run "$VZ" verify old
	assert_failure 1
	assert_output --partial "vectors.bin: offset 0: format version 1 carries no collection id, metadata.json names $id (an older copy?)"
}

@test "a workspace collection of format version 1 opens and verifies; vz build --force gives it an identity" {
	run "$VZ" verify proj/docs
	assert_success
	run "$VZ" query proj/docs --text "backup" -k 1
	assert_success
	mkdir -p "$BATS_TEST_TMPDIR/ws"
	cp -r "$BATS_TEST_DIRNAME/../fixtures/workspace/proj" "$BATS_TEST_TMPDIR/ws/proj"
	cp "$BATS_TEST_DIRNAME/../fixtures/workspace/simplified.yml" "$BATS_TEST_TMPDIR/ws/vectorize-workspace.yml"
	cd "$BATS_TEST_TMPDIR/ws"
	run "$VZ" build proj/docs --force
	assert_success
	[[ $(id_of workspace/proj/docs) =~ ^[0-9a-f]{32}$ ]]
	run "$VZ" verify proj/docs
	assert_success
}
