"""The package layout holds: no import circles, a light recognizer, light registries, one command line, and
the lint rule that keeps Streamlit out of the headless library."""
from __future__ import annotations

import ast
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO

PACKAGE = REPO / "fer_core"


def _module_name(path: Path) -> str:
    parts = path.relative_to(REPO).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _is_type_checking(node: ast.If) -> bool:
    return isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING"


def _imports(tree: ast.AST) -> set[str]:
    """Every fer_core module imported anywhere in a file (functions included), except type-checking blocks."""
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node):
            return
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module.split(".")[0] == "fer_core":
                found.add(node.module)
                found.update(f"{node.module}.{a.name}" for a in node.names)  # `from pkg import module`
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.split(".")[0] == "fer_core")
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return found


def import_graph() -> dict[str, set[str]]:
    modules = {_module_name(p): p for p in PACKAGE.rglob("*.py")}
    return {name: {m for m in _imports(ast.parse(path.read_text())) if m in modules and m != name}
            for name, path in modules.items()}


def test_no_module_imports_one_that_imports_it_back() -> None:
    graph = import_graph()
    assert len(graph) > 40 and graph["fer_core.recognizer"], "the graph was not read"

    def reaches(start: str, goal: str) -> bool:
        seen, todo = set(), [start]
        while todo:
            node = todo.pop()
            if node == goal:
                return True
            if node not in seen:
                seen.add(node)
                todo.extend(graph[node])
        return False

    circles = sorted(f"{a} <-> {b}" for a, deps in graph.items() for b in deps if reaches(b, a))
    assert not circles, "import circles: " + "; ".join(circles)


def test_product_code_never_imports_the_development_tools() -> None:
    """bench/, research/ and cli/ may use the product; the product never reaches back into them."""
    tools = ("fer_core.bench", "fer_core.research", "fer_core.cli")
    graph = import_graph()
    product = [m for m in graph if not m.startswith(tools) and m != "fer_core.__main__"]
    leaks = sorted(f"{m} -> {d}" for m in product for d in graph[m] if d.startswith(tools))
    assert not leaks, leaks


def _loaded_after(statement: str, names: tuple[str, ...]) -> dict[str, bool]:
    code = f"import sys; {statement}; import json; print(json.dumps({{n: n in sys.modules for n in {names!r}}}))"
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def test_recognizer_loads_neither_scikit_learn_nor_captum_nor_torch() -> None:
    """Labels come from ONNX Runtime graph twins; torch loads only when a heatmap needs the torch model."""
    loaded = _loaded_after("import fer_core.recognizer", ("sklearn", "captum", "torch"))
    assert loaded == {"sklearn": False, "captum": False, "torch": False}


def test_registries_and_the_command_line_parser_are_light() -> None:
    """The sidebar reads the registries before any model loads: no torch, no Captum, no OpenCV."""
    loaded = _loaded_after("import fer_core, fer_core.detection.registry, fer_core.explain.registry, "
                           "fer_core.model.catalog, fer_core.cli.common", ("torch", "captum", "cv2", "sklearn"))
    assert not any(loaded.values()), loaded


def test_every_command_is_listed_by_one_entry_point() -> None:
    from fer_core.cli.main import build_parser

    sub = next(a for a in build_parser()._actions if a.dest == "command")
    commands = sub.choices
    for expected in ("predict", "explain", "video", "evaluate", "train", "export", "bench", "live-bench",
                     "video-bench", "explain-bench", "detect-bench", "robustness", "uncertainty", "compare",
                     "crop-jitter", "tta-views", "weight-average", "media-check"):
        assert expected in commands, expected
    listed = subprocess.run([sys.executable, "-m", "fer_core", "--help"], cwd=REPO, capture_output=True,
                            text=True, check=True).stdout
    summaries = {a.dest: a.help for a in sub._choices_actions}
    for name in commands:
        assert name in listed and summaries.get(name), f"{name} has no one-line summary in --help"
    script = shutil.which("fer-lens") or str(Path(sys.executable).with_name("fer-lens"))
    if not Path(script).exists():
        pytest.skip("the fer-lens console script is not installed (pip install -r requirements.txt)")
    assert subprocess.run([script, "--help"], capture_output=True, text=True, check=True).stdout == listed


@pytest.mark.parametrize("line", ["import streamlit as st", "from streamlit import session_state",
                                  "import streamlit.components.v1", "from ui.settings import current"])
def test_lint_rule_keeps_the_dashboard_out_of_fer_core(line: str) -> None:
    ruff = shutil.which("ruff") or (str(Path(sys.executable).with_name("ruff")))
    if not Path(ruff).exists():
        pytest.skip("ruff is not installed (pip install -r requirements-dev.txt)")

    def check(filename: str) -> subprocess.CompletedProcess:
        return subprocess.run([ruff, "check", "--no-cache", "--stdin-filename", filename, "-"], cwd=REPO,
                              input=line + "\n", capture_output=True, text=True)

    inside = check("fer_core/video/probe.py")
    assert inside.returncode == 1 and "TID251" in inside.stdout, inside.stdout
    outside = check("ui/probe.py")
    assert "TID251" not in outside.stdout, outside.stdout


def test_ruff_check_passes_on_the_whole_checkout() -> None:
    """The lint (pyproject.toml's [tool.ruff]) is part of the test run, so the README's test command runs it."""
    ruff = shutil.which("ruff") or str(Path(sys.executable).with_name("ruff"))
    if not Path(ruff).exists():
        pytest.skip("ruff is not installed (pip install -r requirements-dev.txt)")
    result = subprocess.run([ruff, "check", "--no-cache", "."], cwd=REPO, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
