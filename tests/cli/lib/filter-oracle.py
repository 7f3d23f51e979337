#!/usr/bin/env python3
"""filter-oracle.py: the brute-force oracle of tests/cli/filter.bats.

  filter-oracle.py rows N SEED PREFIX      N JSON lines {"id","vector" (dim 8),"payload"} with
                                           random keys, types and values (some rows without payload)
  filter-oracle.py check VZ COLL SEED NEXPR MODE STATE...
        runs NEXPR random --where expressions with `vz query COLL --vector ... -k K --json -v`
        and compares each answer with the exact K nearest rows that the oracle's own evaluation
        of the expression says match. STATE is the collection's history, in order: `ins:FILE`
        (inserted rows), `upd:FILE` (updated rows; a row without payload keeps its old one), `del:FILE` (deleted ids).
        MODE exact: every query must have taken the exact scan and return exactly the truth
        (ids and order; a swap only between distances equal to 1e-5); MODE graph: every query
        that took the graph counts, at least a quarter of them must have, and the mean recall
        over those must be >= 0.95; MODE any: whichever plan, exact ones checked exactly.
        Expressions are drawn so that empty answers occur on a small collection (checked in
        MODE exact) and non-empty ones always; prints a summary.
"""
import json
import random
import struct
import subprocess
import sys

DIM = 8
KEYS = ["a", "b", "lang", "n", "tag"]
STRS = ["c", "go", "rust", "", "C", "é", 'q"t', "10"]
NUMS = [-1, 0, 0.5, 1, 2, 3, 10, 100]


def f32(x):
    return struct.unpack("f", struct.pack("f", x))[0]


def rand_value(r, depth=0):
    t = r.randrange(8)
    if t < 3:
        return r.choice(STRS)
    if t < 6:
        return r.choice(NUMS)
    if t == 6:
        return r.choice([True, False, None])
    if depth == 0 and r.random() < 0.5:
        return {"b": rand_value(r, 1)}
    return [1, "c"]


def rows(n, seed, prefix):
    r = random.Random(seed)
    for i in range(n):
        o = {"id": f"{prefix}{i}", "vector": [round(r.gauss(0, 1), 6) for _ in range(DIM)]}
        if r.random() < 0.95:
            o["payload"] = {k: rand_value(r) for k in r.sample(KEYS, r.randrange(len(KEYS) + 1))}
        print(json.dumps(o, ensure_ascii=r.random() < 0.5))


# ---- expressions: (text, evaluator) ----

MISSING = object()


def lookup(p, path):
    v = p
    for part in path.split("."):
        if not isinstance(v, dict) or part not in v:
            return MISSING
        v = v[part]
    return v


def same_type(v, lit):
    if isinstance(lit, bool) or lit is None:
        return v is lit
    if isinstance(lit, str):
        return isinstance(v, str)
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def cmp(v, lit):
    """-1, 0, 1, or None when not comparable"""
    if v is MISSING or not same_type(v, lit):
        return None
    if isinstance(lit, str):
        a, b = v.encode(), lit.encode()
    elif isinstance(lit, bool) or lit is None:
        return 0
    else:
        a, b = float(v), float(lit)
    return (a > b) - (a < b)


def lit_text(r, lit):
    if isinstance(lit, str):
        return json.dumps(lit, ensure_ascii=r.random() < 0.5)
    if lit is True:
        return r.choice(["true", "TRUE"])
    if lit is False:
        return "false"
    if lit is None:
        return "null"
    return r.choice([str(lit), repr(float(lit)) if float(lit) == lit else str(lit)])


def gen(r, depth=0):
    k = r.randrange(4 if depth < 3 else 3)
    if k == 3:
        op = r.choice(["and", "or", "not"])
        a = gen(r, depth + 1)
        if op == "not":
            return f"not ({a[0]})", lambda p, a=a: not a[1](p)
        b = gen(r, depth + 1)
        kw = op if r.random() < 0.5 else op.upper()
        if op == "and":
            return f"({a[0]}) {kw} ({b[0]})", lambda p, a=a, b=b: a[1](p) and b[1](p)
        return f"({a[0]}) {kw} ({b[0]})", lambda p, a=a, b=b: a[1](p) or b[1](p)
    key = r.choice(KEYS + ["n.b"])
    if k == 0:
        neg = r.random() < 0.3
        return (f"{key} {'not ' if neg else ''}exists",
                lambda p, key=key, neg=neg: (lookup(p, key) is not MISSING) != neg)
    if k == 1:
        lits = [r.choice(STRS + NUMS + [True, False, None]) for _ in range(r.randrange(1, 4))]
        neg = r.random() < 0.3
        text = f"{key} {'not ' if neg else ''}in ({', '.join(lit_text(r, x) for x in lits)})"
        return text, lambda p, key=key, lits=lits, neg=neg: any(cmp(lookup(p, key), x) == 0 for x in lits) != neg
    op = r.choice(["=", "==", "!=", "<>", "<", "<=", ">", ">="])
    lit = r.choice(STRS + NUMS + ([True, False, None] if op in ("=", "==", "!=", "<>") else []))
    text = f"{key} {op} {lit_text(r, lit)}"

    def ev(p, key=key, op=op, lit=lit):
        c = cmp(lookup(p, key), lit)
        if op in ("=", "=="):
            return c == 0
        if op in ("!=", "<>"):
            return c != 0
        if c is None:
            return False
        return {"<": c < 0, "<=": c <= 0, ">": c > 0, ">=": c >= 0}[op]
    return text, ev


def check(vz, coll, seed, nexpr, mode, history):
    state = {}
    for h in history:
        kind, path = h.split(":", 1)
        with open(path) as f:
            for line in f:
                line = line.strip()
                if not line:
                    continue
                if kind == "del":
                    del state[line]
                    continue
                o = json.loads(line)
                # an update without a payload keeps the old one (vz-update(1))
                payload = o.get("payload") if "payload" in o or kind == "ins" else state[o["id"]][1]
                state[o["id"]] = ([f32(x) for x in o["vector"]], payload)
    ids = sorted(state)
    r = random.Random(seed)
    k = 10
    exact_n = graph_n = empty = 0
    recall_sum = 0.0
    for x in range(nexpr):
        text, ev = gen(r)
        q = [round(r.gauss(0, 1), 6) for _ in range(DIM)]
        qf = [f32(v) for v in q]
        match = [i for i in ids if ev(state[i][1] if state[i][1] is not None else {})]
        dist = {i: sum((a - b) ** 2 for a, b in zip(state[i][0], qf)) for i in match}
        truth = sorted(match, key=lambda i: (dist[i], i))[:k]
        p = subprocess.run([vz, "query", coll, "--vector", json.dumps(q), "-k", str(k), "--json", "-v", "--where", text],
                           capture_output=True, text=True)
        if p.returncode != 0:
            sys.exit(f"'{text}': exit {p.returncode}: {p.stderr}")
        got = [json.loads(line)["id"] for line in p.stdout.splitlines()]
        plan = "exact" if "exact scan" in p.stderr else "graph" if "graph search" in p.stderr else "?"
        for i in got:
            if i not in state:
                sys.exit(f"'{text}': {i} is not a live row")
            if not ev(state[i][1] if state[i][1] is not None else {}):
                sys.exit(f"'{text}': {i} does not match (payload {json.dumps(state[i][1])})")
        if len(set(got)) != len(got):
            sys.exit(f"'{text}': a row returned twice: {got}")
        if not truth:
            empty += 1
        if plan == "exact" or not truth:
            exact_n += plan == "exact"
            ok = len(got) == len(truth) and all(g == t or abs(dist[g] - dist[t]) <= 1e-5 * max(1, dist[t]) for g, t in zip(got, truth))
            if not ok:
                sys.exit(f"'{text}' ({plan}): got {got}, want {truth}")
        else:
            if mode == "exact":
                sys.exit(f"'{text}': {len(match)} of {len(ids)} rows match, yet {plan}: {p.stderr}")
            if len(got) != min(k, len(match)):
                sys.exit(f"'{text}' ({plan}): {len(got)} results, {len(match)} rows match")
            graph_n += 1
            recall_sum += len(set(got) & set(truth)) / len(truth)
    if empty == nexpr or (mode == "exact" and empty == 0):
        sys.exit(f"{empty} of {nexpr} expressions match nothing: the draw says little")
    recall = recall_sum / graph_n if graph_n else 1.0
    if mode == "graph" and (graph_n < nexpr // 4 or recall < 0.95):
        sys.exit(f"graph path: {graph_n} queries, mean recall {recall:.3f} (want >= 0.95)")
    print(f"{nexpr} expressions: {exact_n} exact, {graph_n} graph (mean recall {recall:.3f}), {empty} match nothing")


if __name__ == "__main__":
    if sys.argv[1] == "rows":
        rows(int(sys.argv[2]), int(sys.argv[3]), sys.argv[4])
    else:
        check(sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5]), sys.argv[6], sys.argv[7:])
