#!/usr/bin/env python3
"""Checks syncline's layering: every quoted include is folder-qualified, points to the
including folder or one below it, and no two modules include each other, directly or
through others (a .c including its own .h aside).

    python3 scripts/check-layers.py [ROOT]

Exits 1 with one line per violation. CMake runs it as the ctest test `layers`, and the lint step
of tests/run.sh runs it too. The arrows are the ones CMakeLists.txt gives each layer's include
directory; keep the two in step."""
import os
import re
import sys

FOLDERS = {  # layer -> folder
    'core': 'src/core',
    'event': 'src/event',
    'pg': 'connectors/pg',
    'kafka': 'connectors/kafka',
    'http': 'connectors/http',
    'cli': 'src/cli',
}
BELOW = {  # layer -> the layers it may include besides itself
    'core': set(),
    'event': {'core'},
    'pg': {'core'},
    'kafka': {'event', 'core'},
    'http': {'core'},
    'cli': {'core', 'event', 'pg', 'kafka', 'http'},
}
INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)


def modules(root):
    """(layer, module name) -> list of (file, [quoted includes])."""
    mods = {}
    for layer, folder in FOLDERS.items():
        d = os.path.join(root, folder)
        for f in sorted(os.listdir(d)) if os.path.isdir(d) else []:
            if f.endswith(('.c', '.h')):
                text = open(os.path.join(d, f), encoding='utf-8').read()
                key = (layer, f.rsplit('.', 1)[0])
                mods.setdefault(key, []).append((folder + '/' + f, INCLUDE.findall(text)))
    return mods


def edges(mods, errors):
    graph = {m: set() for m in mods}
    for (layer, name), files in mods.items():
        for path, incs in files:
            for inc in incs:
                parts = inc.split('/')
                if len(parts) != 2 or parts[0] not in FOLDERS:
                    errors.append(f'{path}: include "{inc}" is not folder-qualified (layer/name.h)')
                    continue
                to = (parts[0], parts[1].rsplit('.', 1)[0])
                if to[0] != layer and to[0] not in BELOW[layer]:
                    errors.append(f'{path}: include "{inc}": layer {layer} may not include {to[0]}')
                if to not in mods:
                    errors.append(f'{path}: include "{inc}" names no module')
                elif to != (layer, name):
                    graph[(layer, name)].add(to)
    return graph


def cycles(graph):
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    index, low, stack, on, out, counter = {}, {}, [], set(), [], [0]
    for start in graph:
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = counter[0]
        counter[0] += 1
        stack.append(start)
        on.add(start)
        while work:
            v, it = work[-1]
            w = next(it, None)
            if w is not None:
                if w not in index:
                    index[w] = low[w] = counter[0]
                    counter[0] += 1
                    stack.append(w)
                    on.add(w)
                    work.append((w, iter(sorted(graph[w]))))
                elif w in on:
                    low[v] = min(low[v], index[w])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[v])
            if low[v] == index[v]:
                comp = []
                while True:
                    w = stack.pop()
                    on.discard(w)
                    comp.append(w)
                    if w == v:
                        break
                if len(comp) > 1:
                    out.append(sorted(comp))
    return out


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), '..')
    errors = []
    mods = modules(root)
    graph = edges(mods, errors)
    for comp in cycles(graph):
        errors.append('cycle between modules: ' + ' <-> '.join(f'{l}/{n}' for l, n in comp))
    for e in errors:
        print(e)
    nedges = sum(len(v) for v in graph.values())
    print(f'layers: {len(mods)} modules, {nedges} includes between modules, '
          f'{len(errors)} violation(s)')
    return 1 if errors else 0


if __name__ == '__main__':
    sys.exit(main())
