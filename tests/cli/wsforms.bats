#!/usr/bin/env bats
# Workspace files in every schema form of the original system (tests/fixtures/workspace/forms):
# the build goes on past missing projects and bad entries, reports file:line and exits with the
# first failure's code; hidden files (.env) stay out of payloads and backups; native models;
# -w FILE, --dry-run, the stale-build warning, vz list of unbuilt collections, vz watch reloads,
# checkpoint thresholds, after_checkpoint backups and --keep by kind.
load helper

FIX="$BATS_TEST_DIRNAME/../fixtures/workspace"
SECRET=sekrit-hunter2-token

setup() {
	W="$BATS_TEST_TMPDIR/ws"
	mkdir -p "$W"
	cp -r "$FIX/proj" "$W/proj"
	printf 'API_KEY=%s\n' "$SECRET" > "$W/proj/.env"
	mkdir -p "$W/proj/.config"
	printf 'token %s in a hidden directory\n' "$SECRET" > "$W/proj/.config/notes.md"
	unset VZ_DATA_DIR # the data directory beside the workspace file
}

form() { cp "$FIX/forms/$1.yml" "$W/vectorize-workspace.yml"; cd "$W"; }

@test "simplified form: a missing project is reported at file:line, the others are built, exit 78" {
	form simplified-missing
	run --separate-stderr "$VZ" build
	assert_equal "$status" 78
	assert_line --regexp '^proj/docs: 2 files, 0 changed, 2 added, 0 removed, 2 chunks, [0-9.]+ s$'
	assert_line --regexp '^all/everything: 4 files, 0 changed, 4 added, 0 removed, 4 chunks, [0-9.]+ s$'
	[[ "$stderr" == *"vectorize-workspace.yml:29: gone/notes: project gone: path $W/no-such-project: no such directory"* ]]
	[ "$(grep -c 'gone/notes' <<< "$stderr")" -eq 1 ]
	assert_file_exists "$W/data/workspace/all/everything/metadata.json"
	run --separate-stderr "$VZ" build --json gone/notes
	assert_equal "$status" 78
	assert_output '{"collection":"gone/notes","line":29,"error":"gone/notes: project gone: path '"$W"'/no-such-project: no such directory","exit":78}'
	run "$VZ" list
	assert_success
	assert_line --regexp '^gone/notes +workspace +- +- +- +- +- +not built$'
	assert_line --regexp '^all/everything +workspace +128 +cosine +4 +0 +[0-9]+ +ok$'
	run "$VZ" list --json
	assert_line '{"collection":"gone/notes","kind":"workspace","dim":null,"metric":null,"vectors":null,"wal_ops":null,"bytes":null,"state":"not built"}'
}

@test "a .env and hidden directories are in no payload and no backup; skip_hidden_files: false opts in" {
	form simplified-missing
	"$VZ" build -q || true
	run grep -rl "$SECRET" "$W/data"
	assert_failure
	"$VZ" backup --all -o "$BATS_TEST_TMPDIR/all.tar.zst"
	run bash -c "tar --zstd -xOf '$BATS_TEST_TMPDIR/all.tar.zst' | grep -c '$SECRET'"
	assert_output 0
	run "$VZ" query all/everything --text 'token hunter2' -k 10 --json
	refute_output --partial '.env'
	refute_output --partial '.config'
	# opting in reads them
	sed -i 's/max_file_size_mb: 1/max_file_size_mb: 1\n    file_processing: { skip_hidden_files: false }/' vectorize-workspace.yml
	run "$VZ" build all/everything
	assert_success
	assert_output --regexp '^all/everything: 6 files, 0 changed, 6 added, 0 removed, 6 chunks, [0-9.]+ s \(rebuilt\)$'
	run "$VZ" query all/everything --text "$SECRET" -k 1 --json
	assert_output --partial '"path":".'
}

@test "full form with a trailing comments-only document: real_model and onnx_model fall back once per collection" {
	form full-notes
	run --separate-stderr "$VZ" build -v
	assert_equal "$status" 78
	assert_line --regexp '^proj/docs: 3 files, 0 changed, 3 added'
	assert_line --regexp '^proj/code: 1 file, 0 changed, 1 added'
	[[ "$stderr" == *"vectorize-workspace.yml:5:12: proj/docs: embedding model 'real_model' needs trained weights vz cannot have: bm25 is used instead"* ]]
	[[ "$stderr" == *"vectorize-workspace.yml:29:29: proj/code: embedding model 'onnx_model' needs trained weights vz cannot have: bm25 is used instead"* ]]
	[ "$(grep -c "proj/docs: embedding model" <<< "$stderr")" -eq 1 ]
	# keys vz has no use for: listed once each with -v, never silently
	[ "$(grep -c ':40:1: monitoring: vz has no monitoring service' <<< "$stderr")" -eq 1 ]
	[ "$(grep -c ':41:1: validation: ' <<< "$stderr")" -eq 1 ]
	[ "$(grep -c ':37:3: parallel_processing: ' <<< "$stderr")" -eq 1 ]
	[ "$(grep -c 'compression: vz does not compress' <<< "$stderr")" -eq 1 ]
	[[ "$stderr" == *"vectorize-workspace.yml:35: missing/x: project missing: path $W/not-here: no such directory"* ]]
	run --separate-stderr "$VZ" build
	[[ "$stderr" != *"not applicable"* ]]
	run "$VZ" info proj/docs --json
	assert_output --partial '"embedding":"bm25"'
	assert_output --partial '"dim":96'
	# a second document with content is still refused
	printf 'projects: []\n' >> vectorize-workspace.yml
	run "$VZ" build
	assert_equal "$status" 78
	assert_output --partial 'only the first YAML document may have content'
}

@test "global_settings form: native models, a misspelled key named at line:column, a missing path" {
	form global-settings
	run --separate-stderr "$VZ" build
	assert_equal "$status" 78
	assert_line --regexp '^proj/grams: 2 files, 0 changed, 2 added'
	assert_line --regexp '^proj/bow: 1 file, 0 changed, 1 added'
	assert_line --regexp '^proj/hashed: 4 files, 0 changed, 4 added'
	[[ "$stderr" == *"vectorize-workspace.yml:32:5: project 'typo' has no collections: unknown key 'collectons' (did you mean 'collections'?)"* ]]
	[[ "$stderr" == *"vectorize-workspace.yml:37: away/docs: project away: path $W/elsewhere: no such directory"* ]]
	[[ "$stderr" != *"global_settings"* ]]
	for c in grams:native_ngram bow:native_bow hashed:native_hash; do
		run "$VZ" info "proj/${c%%:*}" --json
		assert_output --partial "\"embedding\":\"${c#*:}\""
	done
	# each model answers a query embedded its own way
	run "$VZ" query proj/grams --text 'restoring after a power cut' -k 1 --json
	assert_output --partial 'recovery.md'
	run "$VZ" query proj/hashed --text 'nightly archive' -k 1 --json
	assert_output --partial 'backup.md'
	run "$VZ" query proj/bow --text 'main' -k 1 --json
	assert_output --partial 'main.c'
}

@test "supported_extensions and max_file_size_mb apply; skipped files are counted in the summary" {
	head -c 1200000 /dev/zero | tr '\0' 'a' > "$W/proj/docs/huge.md"
	printf 'bin\0ary' > "$W/proj/docs/blob.md"
	printf 'projects:\n  - name: p\n    path: proj\n    collections:\n      - name: md\n        processing: { max_file_size_mb: 1, supported_extensions: ["md"] }\n' > "$W/vectorize-workspace.yml"
	cd "$W"
	run "$VZ" build
	assert_success
	assert_output --regexp '^p/md: 3 files, 0 changed, 3 added, 0 removed, 3 chunks, 2 skipped \(1 too large, 1 binary\), [0-9.]+ s$'
	run "$VZ" build --json
	assert_output --partial '"too_large":1,"binary":1'
}

@test "-w FILE uses the data directory beside FILE" {
	mkdir -p "$W/elsewhere" "$W/cwd"
	cp "$FIX/simplified.yml" "$W/elsewhere/ws.yml"
	cp -r "$FIX/proj" "$W/elsewhere/proj"
	cd "$W/cwd"
	run "$VZ" build -w ../elsewhere/ws.yml proj/docs
	assert_success
	assert_file_exists "$W/elsewhere/data/workspace/proj/docs/metadata.json"
	assert_not_exist "$W/cwd/data"
	# an explicit data directory still wins
	VZ_DATA_DIR="$BATS_TEST_TMPDIR/explicit" run "$VZ" build -w ../elsewhere/ws.yml proj/docs
	assert_success
	assert_file_exists "$BATS_TEST_TMPDIR/explicit/workspace/proj/docs/metadata.json"
}

@test "build --dry-run names exactly the files added, changed and removed, and writes nothing" {
	cp "$FIX/simplified.yml" "$W/vectorize-workspace.yml"
	cd "$W"
	run "$VZ" build --dry-run proj/docs
	assert_success
	assert_output --partial 'proj/docs: 2 files, 0 changed, 2 added, 0 removed, not built (dry run: nothing written)'
	assert_not_exist "$W/data"
	"$VZ" build -q
	echo "one more line" >> proj/docs/backup.md
	touch proj/docs/sub/recovery.md # touched, same content: not a change
	echo "# new words" > proj/docs/new.md
	rm proj/src/main.c
	export VZ_DATA_DIR="$W/data"
	before=$(snapshot)
	run "$VZ" build --dry-run
	assert_success
	assert_output "proj/docs: changed docs/backup.md
proj/docs: added docs/new.md
proj/docs: 3 files, 1 changed, 1 added, 0 removed (dry run: nothing written)
proj/code: removed src/main.c
proj/code: 0 files, 0 changed, 0 added, 1 removed (dry run: nothing written)"
	assert_equal "$(snapshot)" "$before"
	run "$VZ" build --dry-run --json proj/code
	assert_line '{"collection":"proj/code","removed":"src/main.c"}'
}

@test "a query warns when the workspace file changed since the build, and only then" {
	cp "$FIX/simplified.yml" "$W/vectorize-workspace.yml"
	cd "$W"
	"$VZ" build -q
	run --separate-stderr "$VZ" query proj/docs --text 'archive' -k 1
	assert_success
	assert_equal "$stderr" ""
	echo "# a comment" >> vectorize-workspace.yml
	run --separate-stderr "$VZ" query proj/docs --text 'archive' -k 1
	assert_success
	[[ "$stderr" == *"$W/vectorize-workspace.yml changed since this collection was built: run vz build"* ]]
	"$VZ" build -q # records the file again, without re-embedding
	run --separate-stderr "$VZ" query proj/docs --text 'archive' -k 1
	assert_equal "$stderr" ""
	sed -i 's/chunk_size: 512/chunk_size: 600/' vectorize-workspace.yml
	run --separate-stderr "$VZ" query proj/docs --text 'archive' -k 1
	[[ "$stderr" == *"the configuration of this collection changed in $W/vectorize-workspace.yml since it was built"* ]]
	# vector queries say it too, and still answer
	v=$("$VZ" get proj/docs "$("$VZ" dump proj/docs | sed -n '2p' | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')" --json --vector |
		python3 -c 'import json,sys; print(json.dumps(json.load(sys.stdin)["vector"]))')
	run --separate-stderr "$VZ" query proj/docs --vector "$v" -k 1 --json
	assert_success
	[[ "$stderr" == *"the configuration of this collection changed in $W/vectorize-workspace.yml since it was built"* ]]
	[ -n "$output" ]
	"$VZ" build -q
	run --separate-stderr "$VZ" query proj/docs --vector "$v" -k 1 --json
	assert_success
	assert_equal "$stderr" ""
}

@test "watch re-reads the workspace file, honours exclude_patterns, and stops when file_watcher.enabled is false" {
	mkdir -p "$W/more"
	echo "Harbour pilots guide ships past the reef." > "$W/more/pilots.md"
	printf 'projects:\n  - name: p\n    path: proj\n    collections:\n      - name: docs\n        include_patterns: ["**/*.md"]\nfile_watcher: { debounce_ms: 100, exclude_patterns: ["*.tmp"] }\n' > "$W/vectorize-workspace.yml"
	cd "$W"
	"$VZ" watch > "$BATS_TEST_TMPDIR/watch.out" 2>&1 &
	pid=$!
	for i in $(seq 1 100); do grep -q '^p/docs:' "$BATS_TEST_TMPDIR/watch.out" && break; sleep 0.1; done
	echo ignored > proj/docs/scratch.tmp
	sleep 0.5
	printf 'projects:\n  - name: p\n    path: proj\n    collections:\n      - name: docs\n        include_patterns: ["**/*.md"]\n  - name: m\n    path: more\n    collections:\n      - name: docs\nfile_watcher: { debounce_ms: 100, exclude_patterns: ["*.tmp"] }\n' > vectorize-workspace.yml.new
	mv vectorize-workspace.yml.new vectorize-workspace.yml
	for i in $(seq 1 100); do grep -q '^m/docs:' "$BATS_TEST_TMPDIR/watch.out" && break; sleep 0.1; done
	kill -TERM $pid
	wait $pid
	assert_equal "$?" 0
	run cat "$BATS_TEST_TMPDIR/watch.out"
	assert_output --partial 'vectorize-workspace.yml changed: reloaded'
	assert_line --regexp '^m/docs: 1 file, 0 changed, 1 added'
	# the .tmp file triggered no build: p/docs was built once at start and once after the reload
	[ "$(grep -c '^p/docs:' "$BATS_TEST_TMPDIR/watch.out")" -eq 2 ]
	run "$VZ" query m/docs --text 'harbour pilots' -k 1 --json
	assert_output --partial 'pilots.md'
	printf 'projects:\n  - name: p\n    path: proj\n    collections:\n      - name: docs\nfile_watcher: { enabled: false }\n' > vectorize-workspace.yml
	run timeout 10 "$VZ" watch
	assert_success
	assert_output --partial 'file watching is off'
}

@test "checkpoint thresholds: the workspace section defaults new dynamic collections, --set-ops changes them" {
	printf 'projects:\n  - name: p\n    path: proj\n    collections:\n      - name: docs\ncheckpoint: { ops: 7, seconds: 11 }\n' > "$W/vectorize-workspace.yml"
	cd "$W"
	"$VZ" create dyn --dim 4
	run "$VZ" info dyn --json
	assert_output --partial '"checkpoint_ops":7'
	assert_output --partial '"checkpoint_seconds":11'
	"$VZ" create explicit --dim 4 --checkpoint-ops 99
	run "$VZ" info explicit --json
	assert_output --partial '"checkpoint_ops":99'
	assert_output --partial '"checkpoint_seconds":11'
	run "$VZ" checkpoint dyn --set-ops 3 --set-seconds 60
	assert_success
	assert_output --partial 'dyn: automatic checkpoint after 3 operations or 60 s'
	jsonl 3 4 | "$VZ" insert dyn - 2>/dev/null
	run "$VZ" info dyn --json
	assert_output --partial '"wal_ops":0'
	run "$VZ" checkpoint dyn --set-ops 0
	assert_equal "$status" 64
	"$VZ" build -q
	run "$VZ" checkpoint p/docs --set-ops 5
	assert_equal "$status" 77
}

@test "after_checkpoint backups follow automatic checkpoints; --keep counts backups of the same set only" {
	printf 'projects:\n  - name: p\n    path: proj\n    collections:\n      - name: docs\nbackup: { directory: "bk", keep: 2, after_checkpoint: true }\n' > "$W/vectorize-workspace.yml"
	cd "$W"
	"$VZ" create a --dim 4 --checkpoint-ops 5
	"$VZ" create b --dim 4
	jsonl 4 4 1 x | "$VZ" insert a - 2>/dev/null
	assert_not_exist "$W/bk"
	jsonl 1 4 2 y | "$VZ" insert a - 2>/dev/null # the fifth operation: an automatic checkpoint
	run ls "$W/bk"
	assert_output --regexp '^vz-a-[0-9]{8}T[0-9]{6}Z\.tar\.zst$'
	# full backups, then per-collection ones with --keep 1: the full ones stay
	"$VZ" backup --all --dir "$W/bk2" --keep 5
	"$VZ" backup --all --dir "$W/bk2" --keep 5
	"$VZ" backup b --dir "$W/bk2" --keep 1
	"$VZ" backup b --dir "$W/bk2" --keep 1
	"$VZ" backup a b --dir "$W/bk2" --keep 1
	run bash -c "ls '$W/bk2' | sed -E 's/-[0-9]{8}T[0-9]{6}Z(\.[0-9]+)?\.tar\.zst$//' | sort | uniq -c | awk '{print \$1, \$2}'"
	assert_output "2 vz
1 vz-b
1 vz-set-$(ls "$W/bk2" | grep -o 'vz-set-[0-9a-f]*' | head -n 1 | cut -c8-)"
}

@test "watch with enable_auto_update: false reports changes without building; a bad edit keeps the last good file" {
	printf 'projects:\n  - name: p\n    path: proj\n    collections:\n      - name: docs\nfile_watcher: { debounce_ms: 100, enable_auto_update: false }\n' > "$W/vectorize-workspace.yml"
	cd "$W"
	"$VZ" watch > "$BATS_TEST_TMPDIR/watch.out" 2>&1 &
	pid=$!
	for i in $(seq 1 100); do grep -q '^p/docs:' "$BATS_TEST_TMPDIR/watch.out" && break; sleep 0.1; done
	echo "Fresh words about tide tables." > proj/docs/tide.md
	for i in $(seq 1 100); do grep -q 'p/docs: files changed' "$BATS_TEST_TMPDIR/watch.out" && break; sleep 0.1; done
	echo 'projects: [' > vectorize-workspace.yml
	for i in $(seq 1 100); do grep -q 'keeping the previous workspace' "$BATS_TEST_TMPDIR/watch.out" && break; sleep 0.1; done
	kill -TERM $pid
	wait $pid
	assert_equal "$?" 0
	run cat "$BATS_TEST_TMPDIR/watch.out"
	assert_line --regexp '^p/docs: 4 files, 0 changed, 4 added'
	assert_output --partial 'p/docs: files changed (file_watcher.enable_auto_update is false: run vz build)'
	assert_output --partial 'vectorize-workspace.yml: keeping the previous workspace until the file is fixed'
	[ "$(grep -c '^p/docs:' "$BATS_TEST_TMPDIR/watch.out")" -eq 1 ]
}
