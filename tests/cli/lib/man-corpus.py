#!/usr/bin/env python3
# man-corpus.py OUT: writes the section 1 man pages of Debian's base packages, rendered to plain
# text with mandoc, as OUT/man1/NAME.1.txt: a corpus of real documents that no one here wrote,
# present on every machine of the image, for the text search quality test and `make bench`.
import os, re, subprocess, sys

PACKAGES = ["coreutils", "util-linux", "findutils", "grep", "sed", "tar", "gzip", "procps", "diffutils",
            "bsdutils", "bash", "login", "passwd", "hostname", "dpkg", "bzip2", "xz-utils", "less",
            "ncurses-bin", "debianutils", "sensible-utils"]

out = os.path.join(sys.argv[1], "man1")
os.makedirs(out, exist_ok=True)
pages = set()
for pkg in PACKAGES:
    r = subprocess.run(["dpkg", "-L", pkg], capture_output=True, text=True)
    for p in r.stdout.split("\n"):
        if re.fullmatch(r"/usr/share/man/man1/[^/]+\.1\.gz", p) and os.path.isfile(p) and not os.path.islink(p):
            pages.add(p)
n = 0
for p in sorted(pages):
    r = subprocess.run(["mandoc", "-T", "utf8", "-O", "width=80", p], capture_output=True)
    text = re.sub(rb".\x08", b"", r.stdout).decode("utf-8", "replace")  # overstrike bold and underline
    if r.returncode > 1 or len(text) < 300:
        continue  # a .so link or an empty page
    name = os.path.basename(p)[:-len(".1.gz")]
    with open(os.path.join(out, name + ".1.txt"), "w") as f:
        f.write(text)
    n += 1
print(n)
