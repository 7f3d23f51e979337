#!/usr/bin/env python3
# text-eval.py CORPUS QUESTIONS [--want FORMAT] [--vz VZ COLLECTION] [--fts5] [-v]: the top-3 hit
# rate of task-style questions (QUESTIONS: ANSWER<TAB>question lines, ANSWER one or more names
# separated by |) over a corpus made by man-corpus.py or header-corpus.py, for `vz query --text`
# and for SQLite FTS5's bm25() on the same documents (python3's sqlite3). FORMAT turns a name into
# the file's path under CORPUS (default man1/%s.1.txt; include/%s for the headers). Prints one line
# per system: "NAME top-3 hit rate R (HITS/N)"; misses on stderr with -v.
import json, os, re, sqlite3, subprocess, sys

args = sys.argv[1:]
corpus, qfile = args[0], args[1]
verbose = "-v" in args
fmt = args[args.index("--want") + 1] if "--want" in args else "man1/%s.1.txt"
qs = [l.rstrip("\n").split("\t", 1) for l in open(qfile) if l.strip() and not l.startswith("#")]
qs = [([fmt % a for a in p.split("|")], q) for p, q in qs]
qs = [(w, q) for w, q in qs if any(os.path.exists(os.path.join(corpus, a)) for a in w)]

def report(name, ranked):
    hits = 0
    for (want, q), top in zip(qs, ranked):
        page = want[0]
        if set(want) & set(top[:3]):
            hits += 1
        elif verbose:
            print("%s miss: %s: %s -> %s" % (name, page, q, " ".join(top[:3])), file=sys.stderr)
    print("%s top-3 hit rate %.2f (%d/%d)" % (name, hits / len(qs), hits, len(qs)))

if "--vz" in args:
    i = args.index("--vz")
    vz, coll = args[i + 1], args[i + 2]
    ranked = []
    for page, q in qs:
        r = subprocess.run([vz, "query", coll, "--text", q, "-k", "3", "--json"], capture_output=True, text=True, check=True)
        ranked.append([json.loads(l)["path"] for l in r.stdout.splitlines()])
    report("vz", ranked)

if "--fts5" in args:
    docs = []
    top = os.path.dirname(fmt)
    for d, _, names in os.walk(os.path.join(corpus, top)):
        for name in sorted(names):
            text = open(os.path.join(d, name), encoding="utf-8", errors="replace").read()
            head = "\n".join(text.split("\n")[:8])
            docs.append((os.path.relpath(os.path.join(d, name), corpus), name, head, text))
    db = sqlite3.connect(":memory:")
    db.execute("CREATE VIRTUAL TABLE d USING fts5(path UNINDEXED, name, head, body, tokenize='unicode61')")
    db.executemany("INSERT INTO d VALUES (?, ?, ?, ?)", docs)
    def fts(weights):
        ranked = []
        for page, q in qs:
            words = re.findall(r"\w+", q.lower())
            match = " OR ".join('"%s"' % w for w in words)
            rows = db.execute("SELECT path FROM d WHERE d MATCH ? ORDER BY bm25(d, %s) LIMIT 3" % weights, (match,)).fetchall()
            ranked.append([r[0] for r in rows])
        return ranked
    report("fts5-bm25", fts("0, 0, 0, 1"))
    report("fts5-bm25-name-head-5x", fts("0, 5, 5, 1"))
