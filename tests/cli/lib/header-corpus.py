#!/usr/bin/env python3
# header-corpus.py OUT: copies the C headers that Debian's libc6-dev installs (the public ones: not
# bits/, gnu/ or Fortran's) to OUT/include/PATH, the multiarch directory folded in (sys/stat.h, not
# x86_64-linux-gnu/sys/stat.h): a second corpus of another kind than the man pages (code with
# comments, written by glibc's authors, present wherever vz builds), for the text search quality
# test and `make bench`. Prints how many headers it wrote.
import os, re, shutil, subprocess, sys

out = os.path.join(sys.argv[1], "include")
r = subprocess.run(["dpkg", "-L", "libc6-dev"], capture_output=True, text=True)
n = 0
for p in sorted(r.stdout.split("\n")):
    m = re.fullmatch(r"/usr/include/(?:[a-z0-9_]+-linux-gnu[a-z0-9_]*/)?(.+\.h)", p)
    if not m or re.match(r"(bits|gnu|finclude)/", m.group(1)) or not os.path.isfile(p) or os.path.islink(p):
        continue
    dst = os.path.join(out, m.group(1))
    os.makedirs(os.path.dirname(dst), exist_ok=True)
    shutil.copyfile(p, dst)
    n += 1
print(n)
