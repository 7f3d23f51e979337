# helper.bash: loaded by every bats file (`load helper`). Gives each test the vz binary as $VZ,
bats_require_minimum_version 1.5.0
# a fresh data directory in $VZ_DATA_DIR, and bats-support/assert/file.
bats_load_library bats-support 2>/dev/null || load /usr/lib/bats/bats-support/load
bats_load_library bats-assert 2>/dev/null || load /usr/lib/bats/bats-assert/load
bats_load_library bats-file 2>/dev/null || load /usr/lib/bats/bats-file/load

VZ=${VZ_BIN:-$BATS_TEST_DIRNAME/../../vz}
ROOT=$(cd "$BATS_TEST_DIRNAME/../.." && pwd)
export VZ ROOT
export VZ_DATA_DIR="$BATS_TEST_TMPDIR/data"
export VZ_LOCK_TIMEOUT=2000
# Writers check the automatic checkpoint in this process, so that what a test sees does not race
# a detached checkpoint; tests/cli/nowait.bats tests the background default.
export VZ_AUTO_CHECKPOINT=inline
unset VZ_FAULT VZ_IO_TRACE

# random float vectors as JSON lines: jsonl N DIM [SEED] [PREFIX]
jsonl() {
	python3 - "$@" <<'PY'
import json, random, sys
n, d = int(sys.argv[1]), int(sys.argv[2]); seed = int(sys.argv[3]) if len(sys.argv) > 3 else 1
pre = sys.argv[4] if len(sys.argv) > 4 else "v"
r = random.Random(seed)
for i in range(n):
    print(json.dumps({"id": f"{pre}{i}", "vector": [round(r.gauss(0, 1), 6) for _ in range(d)], "payload": {"i": i}}))
PY
}

# fvecs FILE N DIM SEED: N random Gaussian rows of DIM floats (.fvecs), the same for the same SEED
fvecs() {
	python3 - "$@" <<'PY'
import random, struct, sys
path, n, d, seed = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
r = random.Random(seed)
with open(path, "wb") as f:
    head = struct.pack("<i", d)
    for _ in range(n):
        f.write(head + struct.pack("<%df" % d, *[r.gauss(0, 1) for _ in range(d)]))
PY
}

# A workspace in $W ($BATS_TEST_TMPDIR/ws) of one project p (files in $W/p) with one collection,
# docs, of the defaults; the current directory is $W.
workspace_p_docs() {
	W="$BATS_TEST_TMPDIR/ws"
	mkdir -p "$W/p"
	printf 'projects:\n  - name: p\n    path: p\n    collections:\n      - name: docs\n' > "$W/vectorize-workspace.yml"
	cd "$W"
}

# Collection s: a checkpointed base of 400 rows (dimension 8), then in the WAL $1 inserts (ids
# n0...), an update of v5 to the vector whose every value is $2, and a delete of v7.
base_then_ops() {
	"$VZ" create s --dim 8 --metric euclidean -q
	jsonl 400 8 1 > "$BATS_TEST_TMPDIR/base.jsonl"
	"$VZ" insert s "$BATS_TEST_TMPDIR/base.jsonl" -q
	"$VZ" checkpoint s -q
	jsonl "$1" 8 2 n | "$VZ" insert s - -q
	echo "{\"id\":\"v5\",\"vector\":[$2,$2,$2,$2,$2,$2,$2,$2],\"payload\":{\"u\":1}}" | "$VZ" update s - -q
	"$VZ" delete s v7 -q
}

# One round of a SIGKILL loop: a deferred load of $2 into collection $1 (ids from $3) killed after
# 0 to $4 hundredths of a second, its number written to $5 when it was acknowledged before that;
# then a checkpoint killed after 0 to $6 thousandths; then verify must pass.
killed_load_and_checkpoint() {
	local w ck
	VZ_AUTO_CHECKPOINT=off "$VZ" insert "$1" "$2" --id-base "$3" -q &
	w=$!
	sleep "0.0$((RANDOM % $4))"
	kill -9 $w 2>/dev/null || true
	wait $w && echo "$(($3 / 10000))" >>"$5" || true
	"$VZ" checkpoint "$1" -q &
	ck=$!
	sleep "0.$((RANDOM % $6))"
	kill -9 $ck 2>/dev/null || true
	wait $ck 2>/dev/null || true
	run "$VZ" verify "$1"
	assert_success
}

# sha256 of every file in the data directory except lock files: compare before/after.
snapshot() {
	(cd "$VZ_DATA_DIR" 2>/dev/null && find . -type f ! -name LOCK -print0 | sort -z | xargs -0 -r sha256sum)
}
