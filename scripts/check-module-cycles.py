#!/usr/bin/env python3
"""Reports import cycles among a crate's modules: each file's `use crate::`
lines (and `crate::name::` paths) name the modules it imports; any cycle, of
any length, fails. Usage: check-module-cycles.py SRC_DIR [SRC_DIR ...]
"""
import os, re, sys

USE = re.compile(r"\bcrate::(\w+)")
BRACED = re.compile(r"\buse\s+crate::\{([^;]*)\}", re.S)


def modules(src):
    """Module name -> the modules it names, for the top-level modules of src."""
    found = {}
    for dirpath, _, files in os.walk(src):
        for file in files:
            if not file.endswith(".rs"):
                continue
            path = os.path.join(dirpath, file)
            rel = os.path.relpath(path, src)
            top = rel.split(os.sep)[0]
            name = top[:-3] if top.endswith(".rs") else top
            if name in ("lib", "main"):
                continue
            text = open(path).read()
            named = set(USE.findall(text))
            for group in BRACED.findall(text):
                while re.search(r"\{[^{}]*\}", group):
                    group = re.sub(r"\{[^{}]*\}", "", group)
                named.update(re.findall(r"(?:^|,)\s*(\w+)", group))
            found.setdefault(name, set()).update(named)
    return {name: {m for m in uses if m in found and m != name} for name, uses in found.items()}


def cycles(graph):
    """Every elementary cycle, each once, starting at its least module."""
    result = []

    def walk(start, node, path, on_path):
        for nxt in sorted(graph[node]):
            if nxt == start:
                result.append(path + [start])
            elif nxt > start and nxt not in on_path:
                on_path.add(nxt)
                walk(start, nxt, path + [nxt], on_path)
                on_path.discard(nxt)

    for start in sorted(graph):
        walk(start, start, [start], {start})
    return result


def main():
    failed = False
    for src in sys.argv[1:] or ["src"]:
        found = cycles(modules(src))
        for cycle in found:
            print(f"{src}: import cycle: {' -> '.join(cycle)}")
        failed |= bool(found)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
