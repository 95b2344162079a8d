#!/usr/bin/python3
"""test-style.py: the layout rules of STYLE.md that a program can check, on
every C file of the tree (src/, adapters/, tests/, bench/): lines of at
most 100 characters, spaces not tabs, no trailing whitespace, LF line ends,
a newline at the end of the file.  Prints each offence as FILE:LINE: what,
and fails when there is one."""
import os
import sys

LIMIT = 100
top = os.environ.get("top_srcdir", os.path.join(os.path.dirname(__file__), ".."))
offences = []
count = 0
for folder in ("src", "adapters", "tests", "bench"):
    for root, dirs, names in os.walk(os.path.join(top, folder)):
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        for name in sorted(names):
            if not name.endswith((".c", ".h")):
                continue
            path = os.path.join(root, name)
            rel = os.path.relpath(path, top)
            count += 1
            with open(path, "rb") as f:
                data = f.read()
            if data and not data.endswith(b"\n"):
                offences.append(f"{rel}: no newline at the end")
            for n, raw in enumerate(data.split(b"\n"), 1):
                line = raw.decode("utf-8", errors="replace")
                if line.endswith("\r"):
                    offences.append(f"{rel}:{n}: CRLF line end")
                    line = line[:-1]
                if len(line) > LIMIT:
                    offences.append(f"{rel}:{n}: {len(line)} characters (limit {LIMIT})")
                if "\t" in line:
                    offences.append(f"{rel}:{n}: a tab")
                if line != line.rstrip():
                    offences.append(f"{rel}:{n}: trailing whitespace")

for o in offences:
    print(o)
print(f"{count} C files checked, {len(offences)} offences")
sys.exit(1 if offences or count == 0 else 0)
