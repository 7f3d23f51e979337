#!/usr/bin/python3
"""Convert real data sets into .fvecs (base/query) under $ANNBENCH_DATA/fvecs (default ./annbench-data).
Fashion-MNIST comes from Debian's dataset-fashion-mnist package; SIFT-5k from the repository's
tests/fixtures/sift5k (see its README.md).  Deterministic; re-run any time."""
import gzip, os, sys
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from annbench import write_fvecs  # noqa

HERE = os.path.dirname(os.path.abspath(__file__))
D = os.path.join(os.path.dirname(os.path.dirname(HERE)), "tests", "fixtures")  # bench/annbench -> root
FM = "/usr/share/datasets/fashion-mnist"  # apt-get install dataset-fashion-mnist
OUT = os.path.join(os.environ.get("ANNBENCH_DATA", "annbench-data"), "fvecs")
os.makedirs(OUT, exist_ok=True)


def idx_images(path):
    with gzip.open(path, "rb") as f:
        buf = f.read()
    n, r, c = np.frombuffer(buf[4:16], dtype=">i4")
    return np.frombuffer(buf[16:], dtype=np.uint8).reshape(n, r * c).astype(np.float32)


# 1. Fashion-MNIST (Debian dataset-fashion-mnist): train 60000 = base, t10k 10000 = queries,
#    exactly the split of ann-benchmarks' fashion-mnist-784-euclidean.
fm = FM
write_fvecs(os.path.join(OUT, "fashion-mnist-784_base.fvecs"), idx_images(os.path.join(fm, "train-images-idx3-ubyte.gz")))
write_fvecs(os.path.join(OUT, "fashion-mnist-784_query.fvecs"), idx_images(os.path.join(fm, "t10k-images-idx3-ubyte.gz")))

# 2. NGT sift-dataset-5k.tsv: 5000 real SIFT descriptors (128 uint8 values + 1 trailing id column).
#    base = first 4500 rows, queries = last 500 rows (held out) + the 3 rows of sift-query-3.tsv first.
s = np.loadtxt(os.path.join(D, "sift5k", "sift-dataset-5k.tsv"), delimiter="\t", dtype=np.float32)[:, :128]
q3 = np.loadtxt(os.path.join(D, "sift5k", "sift-query-3.tsv"), delimiter="\t", dtype=np.float32)[:, :128]
write_fvecs(os.path.join(OUT, "sift5k-128_base.fvecs"), s[:4500])
write_fvecs(os.path.join(OUT, "sift5k-128_query.fvecs"), np.vstack([q3, s[4500:]]))


for f in sorted(os.listdir(OUT)):
    p = os.path.join(OUT, f)
    d = int(np.fromfile(p, dtype=np.int32, count=1)[0])
    print(f"{f}: {os.path.getsize(p) // (4 * d + 4)} x {d}  ({os.path.getsize(p)} B)")
