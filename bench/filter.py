#!/usr/bin/env python3
"""filter.py: the data, ground truth and peer of bench/filter.sh (filtered queries).

  filter.py gen OUT N D NQ     OUT/base.jsonl (ids "0".."N-1", payload {"g": 0..999} drawn at
                               random, independent of the vector), OUT/query.fvecs, OUT/base.npy,
                               OUT/g.npy; seed 7
  filter.py recall OUT K EXPR RESULTS.jsonl
                               recall@K of `vz query --batch --json` results against the exact
                               K nearest rows among those matching EXPR ("" for all, "g < X")
  filter.py faiss OUT K EF EXPR...
                               the peer: faiss IndexHNSWFlat (M 16, efConstruction 200, built once
                               with 2 threads), searched with one thread at efSearch EF, filtered
                               with an IDSelectorBitmap: "recall ms_per_query" for each EXPR (the index is
                               kept in OUT/faiss.index for the next run)
"""
import json
import sys
import time

import numpy as np


def load(out):
    return np.load(f"{out}/base.npy"), np.load(f"{out}/g.npy"), read_fvecs(f"{out}/query.fvecs")


def read_fvecs(path):
    a = np.fromfile(path, dtype=np.int32)
    d = a[0]
    return a.reshape(-1, d + 1)[:, 1:].view(np.float32).copy()


def mask_of(g, expr):
    if not expr:
        return np.ones(len(g), dtype=bool)
    key, op, val = expr.split()
    assert key == "g" and op == "<", expr
    return g < int(val)


def truth(base, q, mask, k):
    rows = np.nonzero(mask)[0]
    sub = base[rows]
    out = []
    for v in q:
        d = ((sub - v) ** 2).sum(axis=1)
        best = np.argpartition(d, min(k, len(d) - 1))[:k]
        out.append(set(rows[best].tolist()))
    return out


def main():
    cmd, out = sys.argv[1], sys.argv[2]
    if cmd == "gen":
        n, d, nq = map(int, sys.argv[3:6])
        r = np.random.default_rng(7)
        base = r.standard_normal((n, d), dtype=np.float32)
        g = r.integers(0, 1000, n)
        q = r.standard_normal((nq, d), dtype=np.float32)
        np.save(f"{out}/base.npy", base)
        np.save(f"{out}/g.npy", g)
        with open(f"{out}/query.fvecs", "wb") as f:
            for v in q:
                np.array([d], dtype=np.int32).tofile(f)
                v.tofile(f)
        # 9 significant digits give back the same float32: base.npy is what vz stores
        import io
        buf = io.StringIO()
        np.savetxt(buf, base, fmt="%.9g", delimiter=",")
        with open(f"{out}/base.jsonl", "w") as f:
            for i, vec in enumerate(buf.getvalue().splitlines()):
                f.write(f'{{"id":"{i}","vector":[{vec}],"payload":{{"g":{g[i]}}}}}\n')
    elif cmd == "recall":
        k, expr, res = int(sys.argv[3]), sys.argv[4], sys.argv[5]
        base, g, q = load(out)
        mask = mask_of(g, expr)
        want = truth(base, q, mask, k)
        hit = total = 0
        bad = 0
        with open(res) as f:
            for line in f:
                o = json.loads(line)
                got = [int(r["id"]) for r in o["results"]]
                bad += sum(1 for i in got if not mask[i])
                w = want[o["query"]]
                hit += len(w & set(got))
                total += len(w)
        if bad:
            sys.exit(f"filter.py: {bad} results fail the filter {expr}")
        print(f"{hit / total:.4f}")
    elif cmd == "faiss":
        import faiss
        k, ef, exprs = int(sys.argv[3]), int(sys.argv[4]), sys.argv[5:]
        base, g, q = load(out)
        import os
        path = f"{out}/faiss.index"
        if os.path.exists(path):
            idx = faiss.read_index(path)
        else:
            faiss.omp_set_num_threads(2)
            idx = faiss.IndexHNSWFlat(base.shape[1], 16)
            idx.hnsw.efConstruction = 200
            idx.add(base)
            faiss.write_index(idx, path)
        faiss.omp_set_num_threads(1)
        idx.hnsw.efSearch = ef  # SearchParametersHNSW's efSearch alone was not applied (recall as at 16)
        for expr in exprs:
            mask = mask_of(g, expr)
            bits = np.packbits(mask.astype(np.uint8), bitorder="little")
            sel = faiss.IDSelectorBitmap(len(mask), faiss.swig_ptr(bits))
            params = faiss.SearchParametersHNSW(sel=sel, efSearch=ef) if expr else faiss.SearchParametersHNSW(efSearch=ef)
            t = time.perf_counter()
            _, ids = idx.search(q, k, params=params)
            ms = (time.perf_counter() - t) * 1000 / len(q)
            want = truth(base, q, mask, k)
            hit = sum(len(w & set(i for i in row.tolist() if i >= 0)) for w, row in zip(want, ids))
            print(f"{hit / sum(len(w) for w in want):.4f} {ms:.3f}")

if __name__ == "__main__":
    main()
