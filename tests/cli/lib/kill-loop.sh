#!/usr/bin/env bash
# kill-loop.sh CYCLES: SIGKILLs `vz insert` and `vz apply` at random moments, then checks with an
# oracle that every acknowledged transaction is there whole and no other one is there in part.
# Needs VZ (the binary) and VZ_DATA_DIR; KILL_ROWS sets the rows of each insert (default 300).
# Prints a summary (cycles, acknowledged, killed, WAL folds); exits 1 on the first violation.
set -u
cycles=${1:-100}
# the product's default: a due checkpoint runs detached, so killing a writer never kills it
export VZ_AUTO_CHECKPOINT=background
rows=${KILL_ROWS:-300}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$VZ" create k --dim 8 --metric euclidean --checkpoint-ops 1000 -q || exit 1
acked=()
killed=0
# The kill moment is drawn from [0, window], the window starting at 2 x the time of one whole
# insert, measured here on a warm-up batch (cycle 0, acknowledged), then widened by 1/8 after
# each kill and narrowed by 1/8 after each acknowledgement: commands get slower as the
# collection grows (and an automatic checkpoint makes one much slower), and a fixed window
# ended up killing nearly every command, the checkpoints included, so that the WAL never
# folded. This way about half the commands are killed on any machine at any size, mid-write
# or not at all.
for ((i = 0; i < 300; i++)); do printf '{"id":"c0_%d","vector":[0,%d,1,2,3,4,5,6]}\n' $i $i; done >"$work/warm.jsonl"
t0=$(date +%s%N)
"$VZ" -q insert k "$work/warm.jsonl" || exit 1
window_ms=$(( ($(date +%s%N) - t0) * 2 / 1000000 ))
((window_ms < 10)) && window_ms=10
for ((c = 1; c <= cycles; c++)); do
	f=$work/b$c.jsonl
	if ((c % 2)); then
		cmd=insert
		for ((i = 0; i < rows; i++)); do printf '{"id":"c%d_%d","vector":[%d,%d,1,2,3,4,5,%d],"payload":{"c":%d}}\n' $c $i $c $i $i $c; done >"$f"
	else
		cmd=apply
		{
			for ((i = 0; i < 10; i++)); do printf '{"op":"insert","id":"c%d_%d","vector":[%d,%d,1,2,3,4,5,6]}\n' $c $i $c $i; done
			printf '{"op":"upsert","id":"last","vector":[0,0,0,0,0,0,0,%d],"payload":{"c":%d}}\n' $c $c
		} >"$f"
	fi
	"$VZ" -q $cmd k "$f" &
	pid=$!
	# a random moment: from before the process starts writing to after it is done
	ms=$((RANDOM % window_ms))
	sleep "$(printf "%d.%03d" $((ms / 1000)) $((ms % 1000)))"
	kill -9 $pid 2>/dev/null
	wait $pid 2>/dev/null
	st=$?
	if [ $st -eq 0 ]; then
		acked+=($c)
		window_ms=$((window_ms * 7 / 8))
		((window_ms < 10)) && window_ms=10
	else
		killed=$((killed + 1))
		window_ms=$((window_ms * 9 / 8 + 1))
	fi
done
# The log must fold while writers are being killed: some background checkpoint has switched in
# (generation > 0) before anyone waits for one. Then wait for any still running.
gen=$("$VZ" info k --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["generation"])')
"$VZ" checkpoint --wait k -q || { echo "checkpoint --wait failed after the kills"; exit 1; }
"$VZ" dump k >"$work/dump" 2>"$work/err" || { echo "dump failed after the kills: $(cat "$work/err")"; exit 1; }
python3 - "$work/dump" "$cycles" "${acked[*]:-}" "$killed" "$rows" "$gen" "$window_ms" <<'PY'
import json, sys
dump, cycles, acked, killed = sys.argv[1], int(sys.argv[2]), set(map(int, sys.argv[3].split())), int(sys.argv[4])
rows, gen, window = int(sys.argv[5]), int(sys.argv[6]), int(sys.argv[7])
ids, last = {}, None
for line in open(dump).readlines()[1:]:
    o = json.loads(line)
    if o["id"] == "last":
        last = o["payload"]["c"]
        continue
    c = int(o["id"][1:].split("_")[0])
    ids[c] = ids.get(c, 0) + 1
if ids.pop(0, 0) != 300:
    sys.exit("the warm-up batch (acknowledged) is not all there")
for c in range(1, cycles + 1):
    want = rows if c % 2 else 10
    have = ids.get(c, 0)
    if have not in (0, want):
        sys.exit(f"cycle {c}: {have} of {want} rows present: a transaction is half there")
    if c in acked and have != want:
        sys.exit(f"cycle {c}: acknowledged, but {have} of {want} rows present")
applied = [c for c in range(2, cycles + 1, 2) if ids.get(c, 0)]
if applied and last != max(applied):
    sys.exit(f"'last' says cycle {last}, the newest apply present is {max(applied)}")
ins = sum(1 for c in acked if c % 2)
acked_ops = rows * ins + 11 * (len(acked) - ins)
if acked_ops >= 2000 and gen == 0:
    sys.exit(f"{acked_ops} operations acknowledged, but no checkpoint ever switched in: the log never folded")
print(f"{cycles} cycles: {len(acked)} acknowledged and all present ({ins} inserts of {rows} rows, {len(acked) - ins} applies), "
      f"{killed} killed, {len(ids)} transactions present, none partial; {gen} WAL folds (checkpoints) while writers were killed, last kill window {window} ms")
PY
