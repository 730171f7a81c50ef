"""The house rules of ARCHITECTURE.md, checked on the source: layers import downwards only, no
module imports itself back through others, the formulations read only the problem data, only
the solver talks to HiGHS, and nothing in a solve changes the process (so that several solves
can run in threads of one service)."""
from __future__ import annotations

import ast
import threading
from pathlib import Path

import pytest

from conftest import INSTANCES, REPO

LAYERS = [
    ["optimizer.errors", "optimizer.status", "optimizer.parallel", "optimizer.cancel",
     "optimizer.lifeline"],
    ["optimizer.instance"],
    ["optimizer.problem"],
    ["formulations"],
    ["optimizer.solver"],
    ["optimizer.analysis"],
    ["optimizer.output"],
    ["optimizer.options"],      # the options of one solve, carried down every path
    ["optimizer.pipeline"],
    ["optimizer.scenarios"],
    ["optimizer.planning"],
    ["optimizer.studies"],
    ["optimizer"],              # the package itself: the public API
    ["optimizer.studio"],       # the web studio, over the public API
    ["cli"],
]
"""Bottom to top: a module may import its own layer and the ones below."""


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _sources() -> dict[str, Path]:
    files = list((REPO / "optimizer").rglob("*.py")) + list((REPO / "formulations").rglob("*.py"))
    return {_module_name(p): p for p in files + [REPO / "cli.py"]}


def _layer(module: str) -> int:
    best = None
    for number, prefixes in enumerate(LAYERS):
        for prefix in prefixes:
            if module == prefix or module.startswith(prefix + "."):
                if best is None or len(prefix) > best[1]:
                    best = (number, len(prefix))
    assert best is not None, f"{module} is in no layer"
    return best[0]


def _imports(path: Path, known: set[str]) -> set[str]:
    """Every project module ``path`` imports, at the top or inside functions."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        names = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
        for name in names:
            while name and name not in known:
                name = name.rpartition(".")[0]
            if name:
                found.add(name)
    return found


def test_layers_import_downwards_only():
    sources = _sources()
    wrong = []
    for module, path in sources.items():
        for imported in _imports(path, set(sources)):
            if imported != module and _layer(imported) > _layer(module):
                wrong.append(f"{module} (layer {_layer(module)}) imports {imported} "
                             f"(layer {_layer(imported)})")
    assert not wrong, "\n".join(wrong)


def test_no_import_cycles():
    sources = _sources()
    graph = {m: {i for i in _imports(p, set(sources)) if i != m
                 and not m.startswith(i + ".")} for m, p in sources.items()}
    seen, stack, cycles = set(), [], []

    def visit(node: str) -> None:
        if node in stack:
            cycles.append(stack[stack.index(node):] + [node])
            return
        if node in seen:
            return
        seen.add(node)
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            visit(nxt)
        stack.pop()
    for module in sorted(graph):
        visit(module)
    assert not cycles, "\n".join(" -> ".join(c) for c in cycles)


def test_formulations_read_only_the_problem_data():
    for path in (REPO / "formulations").rglob("*.py"):
        text = path.read_text()
        assert "data.instance" not in text and ".spec" not in text, path


def _external_imports(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.add(node.module.split(".")[0])
    return found


def test_only_the_solver_talks_to_highs():
    for module, path in _sources().items():
        if "highspy" in _external_imports(path) and not module.startswith("optimizer.solver"):
            pytest.fail(f"{module} imports highspy")


def test_the_highs_adapter_knows_no_model_names():
    # no Pyomo, and no variable or constraint family named in its code (docstrings aside)
    path = REPO / "optimizer" / "solver" / "highs.py"
    assert "pyomo" not in _external_imports(path)
    tree = ast.parse(path.read_text())
    docstrings = {id(node.body[0].value) for node in ast.walk(tree)
                  if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef))
                  and node.body and isinstance(node.body[0], ast.Expr)
                  and isinstance(node.body[0].value, ast.Constant)}
    words = {node.value for node in ast.walk(tree)
             if isinstance(node, ast.Constant) and isinstance(node.value, str)
             and id(node) not in docstrings}
    words |= {node.id for node in ast.walk(tree) if isinstance(node, ast.Name)}
    words |= {node.attr for node in ast.walk(tree) if isinstance(node, ast.Attribute)}
    from formulations.registry import FAMILIES
    families = {family.name for family in FAMILIES} | {
        "units_bought", "fleet", "busy", "serve", "build", "capacity_mw", "site_open",
        "cooling_mode", "unmet"}
    assert not words & families, words & families


def test_two_solves_in_two_threads_are_both_right():
    # the bundled instances' optima come from the independent model.md formulation of
    # test_differential (13,940,512.89 and 536,474,425.03); solved at once in two threads of
    # this process, each must reach its own
    from optimizer import load_instance, solve
    from optimizer.instance.safe_yaml import read_yaml_file
    from test_differential import independent_optimum
    names = ["quickstart", "zhengzhou-30k"]
    expected = {n: independent_optimum(read_yaml_file(INSTANCES / f"{n}.yaml"))[1]
                for n in names}
    got: dict[str, float] = {}
    errors: list[BaseException] = []
    barrier = threading.Barrier(len(names))

    def work(name: str) -> None:
        try:
            instance = load_instance(INSTANCES / f"{name}.yaml")
            barrier.wait()
            got[name] = solve(instance, mip_gap=1e-9).objective
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
    threads = [threading.Thread(target=work, args=(n,)) for n in names]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors
    for name in names:
        assert got[name] == pytest.approx(expected[name], rel=1e-6), name
