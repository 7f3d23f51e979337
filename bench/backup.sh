#!/usr/bin/env bash
# bench/backup.sh: backup, verify and restore of vz beside their peers over the same files (one
# collection of N x 128 floats, checkpointed). Two ratios, vz over its peer (above 1: vz is
# faster), each the median of BENCH_ROUNDS interleaved rounds (bench/pair.sh):
#   `vz backup -o FILE` (fsynced, read back) beside `tar --zstd -cf FILE` followed by `sync`;
#   `vz verify` (every checksum and structural check) beside `xxhsum -H3` over the same files.
# Then one timing each, in MB/s of the collection's bytes, of backup --verify (--quick: the
# archive alone; and the collections too) beside `tar --zstd -tf`, restore beside `tar --zstd -xf`.
# Environment: VZ (binary), BENCH_DIR (scratch; default build/bench/backup), BENCH_N (rows,
# default 100000), BENCH_THREADS (vz backup --threads; default: vz's own, one per core),
# BENCH_ROUNDS (interleaved rounds, default 11).
set -euo pipefail
cd "$(dirname "$0")/.."
VZ=${VZ:-$PWD/vz}
D=${BENCH_DIR:-$PWD/build/bench/backup}
N=${BENCH_N:-100000}
ROUNDS=${BENCH_ROUNDS:-11}
THREADS=${BENCH_THREADS:+--threads $BENCH_THREADS}
rm -rf "$D" && mkdir -p "$D"
export VZ_DATA_DIR="$D/data"
now() { date +%s.%N; }
python3 - "$D" "$N" <<'PY'
import random, struct, sys
d, n = sys.argv[1], int(sys.argv[2])
r = random.Random(7)
with open(f"{d}/base.fvecs", "wb") as fv:
    for i in range(n):
        fv.write(struct.pack("<i128f", 128, *[r.gauss(0, 1) for _ in range(128)]))
PY
"$VZ" create c --dim 128 --metric euclidean -q
"$VZ" insert c "$D/base.fvecs" --bulk -q
C="$VZ_DATA_DIR/dynamic/c"
files=$(find "$C" -type f ! -name LOCK | sort | tr '\n' ' ')
bytes=$(find "$C" -type f ! -name LOCK -printf '%s\n' | awk '{s += $1} END {print s}')
mb() { echo "scale=1; $bytes / 1048576 / $1" | bc; }
run() { local t0 t1; t0=$(now); "$@" >/dev/null 2>&1; t1=$(now); echo "$t1 - $t0" | bc; }
sync
printf 'backup bench: one collection, %d x 128, %.1f MB of files; load at start %s\n' "$N" \
	"$(echo "scale=1; $bytes / 1048576" | bc)" "$(cut -d' ' -f1-3 /proc/loadavg)"
read -r bk_vz bk_tar bk_ratio < <(bash bench/pair.sh "$ROUNDS" \
	"'$VZ' backup c -o '$D/vz.tar.zst' $THREADS -q" \
	"tar --zstd -cf '$D/tar.tar.zst' -C '$C' --exclude LOCK . && sync")
read -r vf_vz vf_xxh vf_ratio < <(bash bench/pair.sh "$ROUNDS" "'$VZ' verify c -q" "xxhsum -H3 $files")
vz_size=$(stat -c %s "$D/vz.tar.zst") tar_size=$(stat -c %s "$D/tar.tar.zst")
vz_verify_quick=$(run "$VZ" backup --verify "$D/vz.tar.zst" --quick)
vz_verify=$(run "$VZ" backup --verify "$D/vz.tar.zst")
tar_test=$(run tar --zstd -tf "$D/tar.tar.zst")
vz_restore=$(run env VZ_DATA_DIR="$D/restored" "$VZ" restore "$D/vz.tar.zst")
mkdir -p "$D/untar"
tar_extract=$(run tar --zstd -xf "$D/tar.tar.zst" -C "$D/untar")
printf '  %-38s %8.1f ms  %s bytes (%.3f of the files)\n' \
	"vz backup -o (median)" "$bk_vz" "$vz_size" "$(echo "scale=3; $vz_size / $bytes" | bc)" \
	"tar --zstd -cf && sync (median)" "$bk_tar" "$tar_size" "$(echo "scale=3; $tar_size / $bytes" | bc)"
printf '  %-38s %8.1f ms\n' "vz verify (median)" "$vf_vz" "xxhsum -H3 over the files (median)" "$vf_xxh"
printf '  %-38s %8.3f s  %8s MB/s\n' \
	"vz backup --verify --quick" "$vz_verify_quick" "$(mb "$vz_verify_quick")" \
	"vz backup --verify (collections too)" "$vz_verify" "$(mb "$vz_verify")" \
	"tar --zstd -tf" "$tar_test" "$(mb "$tar_test")" \
	"vz restore (verified, fsynced)" "$vz_restore" "$(mb "$vz_restore")" \
	"tar --zstd -xf" "$tar_extract" "$(mb "$tar_extract")"
echo "ratios (vz over its peer, median of $ROUNDS interleaved rounds' own ratios; above 1: vz is faster):"
echo "  vz backup -o / (tar --zstd -cf && sync): $bk_ratio (bar: 1.5; compressed sizes $vz_size / $tar_size = $(echo "scale=4; $vz_size / $tar_size" | bc))"
echo "  vz verify / xxhsum -H3 over the same files: $vf_ratio (bar: 0.8; verify also checks every structure)"
