"""Who may import whom, checked over every import of every module (module level and inside
functions), and that SQL lives only in the store.

The rules (README, "Code map"): `core/learning/` never touches the store or the app's other
layers; the store imports only `core.config`, `core.settings` and itself; only `ui/` and
`app.py` import Streamlit; no import cycles among `core` modules; no SQL outside `core/store/`.
The checker runs on a planted tree too, so a test shows it finds each kind of violation.
"""
from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

LEARNING_MAY_NOT = ("core.store", "core.team", "core.labeling", "core.jobs", "core.files", "core.versions",
                    "core.sim")
STORE_MAY = ("core.config", "core.settings", "core.store")
SQL = re.compile(r"\bSELECT\b[\s\S]+\bFROM\b|\bINSERT\s+(OR\s+\w+\s+)?INTO\b|\bUPDATE\s+\w+\s+SET\b|"
                 r"\bDELETE\s+FROM\b|\bCREATE\s+(TABLE|INDEX|VIEW)\b|\bPRAGMA\s+\w+")
SQL_CALLS = {"execute", "executemany", "executescript", "query"}


def module_name(root: Path, path: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def sources(root: Path) -> dict[str, Path]:
    """Module name -> file, for core/, ui/ and app.py."""
    files = [p for d in ("core", "ui") if (root / d).exists() for p in (root / d).rglob("*.py")]
    files += [root / "app.py"] if (root / "app.py").exists() else []
    return {module_name(root, p): p for p in sorted(files)}


def imports(module: str, path: Path, known: set[str]) -> set[str]:
    """Every module `module` imports, anywhere in its file. `from a import b` is `a.b` when that
    is a module, else `a`; relative imports are resolved."""
    out: set[str] = set()
    is_package = path.name == "__init__.py"
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            out.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = module.split(".")[: len(module.split(".")) - node.level + (1 if is_package else 0)]
                base = ".".join(anchor + ([base] if base else []))
            for alias in node.names:
                candidate = f"{base}.{alias.name}" if base else alias.name
                out.add(candidate if candidate in known else base)
    return {m for m in out if m and m != module}


def _in(module: str, prefixes: tuple[str, ...]) -> bool:
    return any(module == p or module.startswith(p + ".") for p in prefixes)


def _sql_in(path: Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and SQL.search(node.value):
            found.append(f"line {node.lineno}: SQL text {node.value.strip()[:40]!r}")
        elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in SQL_CALLS
              and not (isinstance(node.func.value, ast.Name) and node.func.value.id in ("re", "pattern"))):
            found.append(f"line {node.lineno}: .{node.func.attr}(...)")
    return found


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def violations(root: Path) -> list[str]:
    """Every broken rule in the tree at `root`, one line each."""
    modules = sources(root)
    known = set(modules)
    graph = {m: imports(m, p, known) for m, p in modules.items()}
    out = []
    for m, targets in sorted(graph.items()):
        for t in sorted(targets):
            if _in(m, ("core.learning",)) and _in(t, LEARNING_MAY_NOT):
                out.append(f"{m} imports {t}: core/learning never touches the store or the layers above it")
            if _in(m, ("core.store",)) and _in(t, ("core",)) and not _in(t, STORE_MAY):
                out.append(f"{m} imports {t}: the store imports only core.config, core.settings and itself")
            if _in(t, ("streamlit",)) and not (_in(m, ("ui",)) or m == "app"):
                out.append(f"{m} imports {t}: only ui/ and app.py import streamlit")
        if _in(m, ("core", "ui")) and not _in(m, ("core.store",)) or m == "app":
            out += [f"{m} {where}: SQL belongs in core/store/" for where in _sql_in(modules[m])]
    core_graph = {m: {t for t in ts if t in known and _in(t, ("core",))} for m, ts in graph.items() if _in(m, ("core",))}
    out += [f"import cycle: {' -> '.join(c)}" for c in cycles(core_graph)]
    return out


def test_the_code_keeps_the_architecture():
    assert violations(ROOT) == []


def test_the_label_in_effect_is_written_once():
    """'Not reverted by an undo' appears in one place, `core.store.labels.not_undone`; every query builds on it."""
    places = [f"{p.relative_to(ROOT)}:{n}" for p in sources(ROOT).values()
              for n, line in enumerate(p.read_text().splitlines(), 1) if re.search(r"\.reverts\s*=", line)]
    assert places == ["core/store/labels.py:26"], places


def test_the_checker_finds_each_kind_of_violation(tmp_path):
    files = {
        "core/__init__.py": "",
        "core/config.py": "",
        "core/store/__init__.py": "from core.store import db\n",
        "core/store/db.py": "from core import config\n\ndef f():\n    from core.team import auth\n",
        "core/team/__init__.py": "",
        "core/team/auth.py": "from core import store\n",
        "core/learning/__init__.py": "",
        "core/learning/bad.py": "def texts(db):\n    from core import store\n    return store.classes(db, 1)\n",
        "core/learning/fine.py": "import numpy\nfrom core import config\n",
        "core/jobs/__init__.py": "",
        "core/jobs/a.py": "from core.jobs import b\n",
        "core/jobs/b.py": "def f():\n    from . import a\n",
        "core/jobs/sql.py": "def f(db):\n    return db.conn.execute('SELECT id FROM jobs')\n",
        "core/files/__init__.py": "",
        "core/files/page.py": "import streamlit as st\n",
        "ui/__init__.py": "import streamlit\n",
        "app.py": "import streamlit as st\nimport ui\n",
    }
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    found = violations(tmp_path)
    assert "core.learning.bad imports core.store: core/learning never touches the store or the layers above it" in found
    assert "core.store.db imports core.team.auth: the store imports only core.config, core.settings and itself" in found
    assert "core.files.page imports streamlit: only ui/ and app.py import streamlit" in found
    assert "import cycle: core.jobs.a -> core.jobs.b" in found
    assert any(f.startswith("core.jobs.sql line 2: SQL text 'SELECT id FROM jobs'") for f in found), found
    assert any(f.startswith("core.jobs.sql line 2: .execute(...)") for f in found), found
    assert "import cycle: core.store -> core.store.db -> core.team.auth" in found  # auth <-> store
    assert not [f for f in found if f.startswith(("core.learning.fine", "ui", "app "))], found
    assert len(found) == 7, found
