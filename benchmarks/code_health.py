"""The architecture's figures for a source tree: the longest functions, the import cycles, and
the comparisons against task names outside ``tasks/`` and ``methods/``.

    PYTHONPATH=src python benchmarks/code_health.py src/tunewise
    (cd an old checkout && PYTHONPATH=src python /path/to/code_health.py src/tunewise)

Task names are the built-in ones (classification, tokens, sft, regression); a comparison is a
string literal equal to one of them inside ``==``/``!=``/``in`` or a ``Literal[...]``.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

NAMES = {"classification", "tokens", "sft", "regression"}


def longest_functions(src: Path, top: int = 8) -> list[tuple[int, str]]:
    out = []
    for p in src.rglob("*.py"):
        tree = ast.parse(p.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                n = node.end_lineno - node.lineno + 1
                out.append((n, f"{p.relative_to(src.parent)}:{node.lineno} {node.name}"))
    return sorted(out, reverse=True)[:top]


def name_comparisons(src: Path) -> list[str]:
    hits = []
    for p in src.rglob("*.py"):
        rel = p.relative_to(src)
        if rel.parts[0] in ("tasks", "methods"):
            continue
        tree = ast.parse(p.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            parts = []
            if isinstance(node, ast.Compare):
                parts = [node.left, *node.comparators]
            elif isinstance(node, ast.Subscript) and getattr(node.value, "id", "") == "Literal":
                parts = [node.slice]
            for part in parts:
                for c in ast.walk(part):
                    if isinstance(c, ast.Constant) and c.value in NAMES:
                        hits.append(f"{rel}:{node.lineno} {c.value!r}")
    return sorted(set(hits))


def cycles() -> list[tuple[str, ...]]:
    import grimp

    graph = grimp.build_graph("tunewise")
    found = set()
    for a in sorted(graph.modules):
        for b in graph.find_modules_directly_imported_by(a):
            chain = graph.find_shortest_chain(importer=b, imported=a)
            if chain:
                cyc = (a, *chain)[:-1]
                k = cyc.index(min(cyc))
                found.add(tuple(cyc[k:] + cyc[:k]))
    pkg_inits = {m for m in graph.modules if graph.find_children(m)}
    return sorted(c for c in found if not set(c) & pkg_inits)


def main() -> None:
    src = Path(sys.argv[1]).resolve()
    print(f"# {src}")
    print("longest functions (lines):")
    for n, where in longest_functions(src):
        print(f"  {n:4d}  {where}")
    hits = name_comparisons(src)
    files = sorted({h.split(":")[0] for h in hits})
    print(f"task-name comparisons outside tasks/ and methods/: {len(hits)} in {len(files)} files")
    for h in hits:
        print(f"  {h}")
    cyc = cycles()
    print(f"import cycles (modules, package __init__ re-exports excluded): {len(cyc)}")
    for c in cyc:
        print("  " + " -> ".join(c))


if __name__ == "__main__":
    main()
