#!/usr/bin/env bats
# Shell completion: the bash, zsh and fish scripts in completions/ all ask `vz __complete`, so
# these tests drive each script the way its shell does and check the exact candidates.
load helper

# Runs the bash completion function for the command line "$@" (the last word is the one being
# completed) and prints COMPREPLY one element a line, exactly.
complete_bash() {
	bash -c 'source "$1/completions/vz.bash"; shift
		COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1))
		_vz
		(( ${#COMPREPLY[@]} == 0 )) || printf "%s\n" "${COMPREPLY[@]}"' _ "$ROOT" "$VZ" "$@"
}

# The zsh function with compadd and _files replaced by stubs that print what they were given.
complete_zsh() {
	zsh -f -c 'compadd() { print -rl -- "${@[$(( ${@[(i)--]} + 1 )),-1]}"; }
		_files() { print -r -- "_files $*"; }
		source "$1/completions/_vz"; shift
		words=("$@"); CURRENT=$#
		_vz' _ "$ROOT" "$VZ" "$@"
}

complete_fish() {
	PATH="$(dirname "$VZ"):$PATH" fish --no-config -c "source '$ROOT/completions/vz.fish'; complete -C '$1'"
}

help_commands() {
	"$VZ" --help | sed -n '/^commands:/,/^$/p' | sed -nE 's/^  ([a-z]+) .*/\1/p'
}

@test "bash: an empty word offers every command of vz --help, nothing else" {
	run complete_bash ""
	assert_success
	assert_output "$(help_commands)"
}

@test "bash: a prefix offers only the commands it starts" {
	run complete_bash vers
	assert_output "version"
	run complete_bash c
	assert_output "$(printf 'checkpoint\ncreate')"
	run complete_bash nosuch
	assert_output ""
}

@test "bash: every command and every option of its --help is offered" {
	local cmd opt offered missing=""
	for cmd in $("$VZ" __complete ''); do
		offered=$(complete_bash "$cmd" --)
		for opt in $("$VZ" "$cmd" --help | sed -nE 's/^ +(-[a-zA-Z0-9], )?(--[a-z0-9-]+).*/\2/p'); do
			grep -qxF -- "$opt" <<<"$offered" || missing="$missing $cmd:$opt"
		done
	done
	[ -z "$missing" ] || fail "not offered:$missing"
	# and the loop really saw commands with options of their own
	run complete_bash create --ef
	assert_output "$(printf -- '--ef-construction\n--ef-search')"
}

@test "bash: global options before the command, then commands" {
	run complete_bash --lock
	assert_output "--lock-timeout"
	run complete_bash --vers
	assert_output "--version"
	run complete_bash --data-dir "$BATS_TEST_TMPDIR/data" -q vers
	assert_output "version"
}

@test "bash: choices of an option come from its table" {
	run complete_bash create x --metric ""
	assert_output "$(printf 'cosine\neuclidean\ndot_product')"
	run complete_bash create x --metric e
	assert_output "euclidean"
	run complete_bash recover --mode s
	assert_output "salvage"
}

@test "bash: an option taking a number offers nothing" {
	run complete_bash create x --dim ""
	assert_success
	assert_output ""
}

@test "bash: collection names, dynamic and workspace, sorted and filtered by prefix" {
	"$VZ" create beta --dim 2
	"$VZ" create alpha --dim 2
	"$VZ" create al2 --dim 2
	mkdir -p "$VZ_DATA_DIR/workspace/proj/docs" "$VZ_DATA_DIR/dynamic/.vztmp.x" "$VZ_DATA_DIR/dynamic/bad name"
	run complete_bash query ""
	assert_output "$(printf 'al2\nalpha\nbeta\nproj/docs')"
	run complete_bash get al
	assert_output "$(printf 'al2\nalpha')"
	run complete_bash query p
	assert_output "proj/docs"
}

@test "bash: --data-dir before the command selects whose collections are offered" {
	"$VZ" create here --dim 2
	"$VZ" --data-dir "$BATS_TEST_TMPDIR/other" create there --dim 2
	run complete_bash --data-dir "$BATS_TEST_TMPDIR/other" get ""
	assert_output "there"
	run complete_bash get ""
	assert_output "here"
}

@test "bash: file arguments complete file names, --data-dir directory names" {
	mkdir -p "$BATS_TEST_TMPDIR/w/sub"
	touch "$BATS_TEST_TMPDIR/w/v.jsonl" "$BATS_TEST_TMPDIR/w/v.fvecs" "$BATS_TEST_TMPDIR/w/other"
	cd "$BATS_TEST_TMPDIR/w"
	run complete_bash load x v
	assert_success
	assert_equal "$(sort <<<"$output")" "$(printf 'v.fvecs\nv.jsonl')"
	run complete_bash insert x ""
	assert_equal "$(sort <<<"$output")" "$(printf 'other\nsub\nv.fvecs\nv.jsonl')"
	# the first argument of insert is a collection, not a file
	run complete_bash insert o
	assert_output ""
	run complete_bash --data-dir ""
	assert_output "sub"
	run complete_bash list --data-dir s
	assert_output "sub"
}

@test "bash: help completes command names" {
	run complete_bash help q
	assert_output "query"
}

@test "zsh: the function adds the binary's candidates and delegates files" {
	command -v zsh >/dev/null || fail "zsh is not installed (scripts/install-deps.sh lists it)"
	run complete_zsh vers
	assert_success
	assert_output "version"
	run complete_zsh create x --metric d
	assert_output "dot_product"
	run complete_zsh create --ef
	assert_output "$(printf -- '--ef-construction\n--ef-search')"
	run complete_zsh insert x ""
	assert_output "_files "
	run complete_zsh --data-dir ""
	assert_output "_files -/"
}

@test "fish: complete -C offers the binary's candidates" {
	command -v fish >/dev/null || fail "fish is not installed (scripts/install-deps.sh lists it)"
	run complete_fish "vz vers"
	assert_success
	assert_output "version"
	run complete_fish "vz create x --metric eu"
	assert_output "euclidean"
	"$VZ" create fishy --dim 2
	run complete_fish "vz get fi"
	assert_output "fishy"
}

@test "fish: file arguments complete file names" {
	command -v fish >/dev/null || fail "fish is not installed (scripts/install-deps.sh lists it)"
	mkdir -p "$BATS_TEST_TMPDIR/f" && touch "$BATS_TEST_TMPDIR/f/data.jsonl"
	cd "$BATS_TEST_TMPDIR/f"
	run complete_fish "vz load x da"
	assert_output "data.jsonl"
}
