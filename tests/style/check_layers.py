#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Checks every quoted #include of the tree against layers.txt.

Usage: check_layers.py ROOT [LAYERS]. Prints one line per violation and exits 1 if there is any.
An include must name a file by its path from ROOT (the one include root), and the including file's
folder (the longest folder of layers.txt that contains it) must be allowed to reach the included
file's folder.
"""
import os
import re
import sys

SOURCES = ('.h', '.hpp', '.c', '.cc', '.cpp')
INCLUDE = re.compile(r'^\s*#\s*include\s*"([^"]+)"', re.M)


def read_rules(path):
    rules = {}
    for n, line in enumerate(open(path, encoding='utf-8'), 1):
        line = line.split('#', 1)[0].strip()
        if not line:
            continue
        if ':' not in line:
            sys.exit(f'{path}:{n}: expected "folder: folders..."')
        folder, deps = line.split(':', 1)
        rules[folder.strip()] = deps.split()
    for folder, deps in rules.items():
        for d in deps:
            if d != '*' and d not in rules:
                sys.exit(f'{path}: {folder} names {d}, which has no line of its own')
    return rules


def closure(rules, folder, seen=None):
    seen = set() if seen is None else seen
    for d in rules[folder]:
        if d not in seen:
            seen.add(d)
            if d != '*':
                closure(rules, d, seen)
    return seen


def folder_of(rules, path):
    best = None
    for f in rules:
        if (path == f or path.startswith(f + '/')) and (best is None or len(f) > len(best)):
            best = f
    return best


def main():
    root = os.path.abspath(sys.argv[1])
    rules = read_rules(sys.argv[2] if len(sys.argv) > 2 else os.path.join(root, 'tests/style/layers.txt'))
    reach = {f: closure(rules, f) for f in rules}
    bad = []
    checked = 0
    for top in ('uring_engine', 'interposer', 'nl_control', 'tools', 'tests'):
        for dirpath, dirs, files in os.walk(os.path.join(root, top)):
            dirs[:] = [d for d in dirs if d not in ('corpus', 'fixtures')]
            for name in files:
                if not name.endswith(SOURCES):
                    continue
                path = os.path.relpath(os.path.join(dirpath, name), root)
                own = folder_of(rules, path)
                text = open(os.path.join(root, path), encoding='utf-8', errors='replace').read()
                for m in INCLUDE.finditer(text):
                    inc = m.group(1)
                    line = text.count('\n', 0, m.start()) + 1
                    checked += 1
                    if not os.path.isfile(os.path.join(root, inc)):
                        bad.append(f'{path}:{line}: "{inc}" is not a path from the repository root')
                        continue
                    if own is None:
                        bad.append(f'{path}:{line}: {os.path.dirname(path)} has no line in layers.txt')
                        continue
                    theirs = folder_of(rules, inc)
                    if theirs == own or '*' in reach[own]:
                        continue
                    if theirs is None or theirs not in reach[own]:
                        bad.append(f'{path}:{line}: {own} may not include {inc} ({theirs or "unlisted"})')
    for b in bad:
        print(b)
    print(f'{checked} includes checked, {len(bad)} violations')
    return 1 if bad else 0


if __name__ == '__main__':
    sys.exit(main())
