#!/usr/bin/env bash
# bench/backup.sh: backup, verify and restore throughput of vz beside `tar --zstd` over the same
# files (one collection of N x 128 floats, checkpointed). MB/s of the collection's bytes.
# Environment: VZ (binary), BENCH_DIR (scratch; default build/bench/backup), BENCH_N (rows,
# default 100000), BENCH_THREADS (zstd threads for both, default 0).
set -euo pipefail
VZ=${VZ:-$PWD/vz}
D=${BENCH_DIR:-$PWD/build/bench/backup}
N=${BENCH_N:-100000}
T=${BENCH_THREADS:-0}
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
bytes=$(find "$C" -type f ! -name LOCK -printf '%s\n' | awk '{s += $1} END {print s}')
mb() { echo "scale=1; $bytes / 1048576 / $1" | bc; }
run() { local t0 t1; t0=$(now); "$@" >/dev/null 2>&1; t1=$(now); echo "$t1 - $t0" | bc; }
sync
vz_backup=$(run "$VZ" backup c -o "$D/vz.tar.zst" --threads "$T")
tar_backup=$(run env ZSTD_NBTHREADS="$T" tar --zstd -cf "$D/tar.tar.zst" -C "$C" --exclude LOCK .)
vz_verify_quick=$(run "$VZ" backup --verify "$D/vz.tar.zst" --quick)
vz_verify=$(run "$VZ" backup --verify "$D/vz.tar.zst")
tar_test=$(run tar --zstd -tf "$D/tar.tar.zst")
vz_restore=$(run env VZ_DATA_DIR="$D/restored" "$VZ" restore "$D/vz.tar.zst")
mkdir -p "$D/untar"
tar_extract=$(run tar --zstd -xf "$D/tar.tar.zst" -C "$D/untar")
printf 'backup bench: one collection, %d x 128, %.1f MB of files\n' "$N" "$(echo "scale=1; $bytes / 1048576" | bc)"
printf '  %-34s %8.3f s  %8s MB/s  %s bytes\n' \
	"vz backup -o" "$vz_backup" "$(mb "$vz_backup")" "$(stat -c %s "$D/vz.tar.zst")" \
	"tar --zstd -cf" "$tar_backup" "$(mb "$tar_backup")" "$(stat -c %s "$D/tar.tar.zst")"
printf '  %-34s %8.3f s  %8s MB/s\n' \
	"vz backup --verify --quick" "$vz_verify_quick" "$(mb "$vz_verify_quick")" \
	"vz backup --verify (collections too)" "$vz_verify" "$(mb "$vz_verify")" \
	"tar --zstd -tf" "$tar_test" "$(mb "$tar_test")" \
	"vz restore (verified, fsynced)" "$vz_restore" "$(mb "$vz_restore")" \
	"tar --zstd -xf" "$tar_extract" "$(mb "$tar_extract")"
