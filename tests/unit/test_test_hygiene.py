"""The tests themselves: no assertion that cannot fail, no print where an assertion belongs,
no skip that can fire in CI.  Read from their syntax trees, so a comment or a string that
mentions these words is no offence."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parents[1]
SOURCES = sorted(p for p in TESTS.rglob("*.py") if "broken" not in p.parts)


def trees() -> Iterator[tuple[Path, ast.Module]]:
    for path in SOURCES:
        yield path, ast.parse(path.read_text(), str(path))


def where(path: Path, node: ast.AST) -> str:
    return f"{path.relative_to(TESTS.parent)}:{getattr(node, 'lineno', 0)}"


def always_true(node: ast.expr) -> bool:
    """A test expression that holds whatever the code under test does."""
    if isinstance(node, ast.Constant):
        return bool(node.value)
    if isinstance(node, ast.BoolOp) and isinstance(node.op, ast.Or):
        return any(always_true(v) for v in node.values)
    return False


def called(node: ast.AST, *names: str) -> bool:
    """`node` is a call of `name` or of `pytest.name`."""
    if not isinstance(node, ast.Call):
        return False
    func = node.func
    if isinstance(func, ast.Attribute):
        return func.attr in names and isinstance(func.value, ast.Name) and func.value.id == "pytest"
    return isinstance(func, ast.Name) and func.id in names


def offences(path: Path, tree: ast.Module) -> Iterator[str]:
    integration = "integration" in path.parts
    for node in ast.walk(tree):
        if isinstance(node, ast.Assert) and always_true(node.test):
            yield f"{where(path, node)}: an assertion that cannot fail"
        if isinstance(node, (ast.If, ast.IfExp)) and always_true(node.test):
            yield f"{where(path, node)}: a condition that always holds"
        if integration and isinstance(node, ast.Call) and isinstance(node.func, ast.Name) \
                and node.func.id == "print":
            yield (f"{where(path, node)}: print in an integration test (assert it, or report it "
                   "with the `figure` fixture)")
        if isinstance(node, ast.Attribute) and node.attr in ("skip", "skipif", "xfail") \
                and isinstance(node.value, ast.Attribute) and node.value.attr == "mark":
            yield f"{where(path, node)}: a skip or xfail marker (it would fire in CI too)"
        if called(node, "importorskip", "xfail"):
            yield f"{where(path, node)}: {ast.unparse(node)[:60]} (it would fire in CI too)"
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            yield from unguarded_skips(path, node)


def unguarded_skips(path: Path, function: ast.FunctionDef | ast.AsyncFunctionDef) -> Iterator[str]:
    """A `pytest.skip` is allowed only where the same function fails instead when CI is set."""
    skips = [n for n in ast.walk(function) if called(n, "skip")]
    if not skips:
        return
    guards = [n for n in ast.walk(function) if isinstance(n, ast.If)
              and "CI" in ast.unparse(n.test) and any(called(c, "fail") for c in ast.walk(n))]
    if not guards:
        for skip in skips:
            yield (f"{where(path, skip)}: pytest.skip without a CI guard (in CI, where "
                   "os.environ['CI'] is set, it must be pytest.fail)")


def test_the_tests_have_no_assertion_that_cannot_fail_no_print_and_no_unguarded_skip() -> None:
    found = [o for path, tree in trees() for o in offences(path, tree)]
    assert found == []


@pytest.mark.parametrize("source, offence", [
    ("def test_a():\n    assert x or True\n", "cannot fail"),
    ("def test_a():\n    assert 1\n", "cannot fail"),
    ("def test_a():\n    if True or x:\n        assert y\n", "always holds"),
    ("def test_a():\n    print(x)\n", "print in an integration test"),
    ("import pytest\n@pytest.mark.skip(reason='x')\ndef test_a():\n    pass\n", "skip or xfail marker"),
    ("import pytest\n@pytest.mark.skipif(True, reason='x')\ndef test_a():\n    pass\n", "skip or xfail"),
    ("import pytest\nyaml = pytest.importorskip('yaml')\n", "would fire in CI"),
    ("import pytest\ndef test_a():\n    pytest.skip('no engine')\n", "without a CI guard"),
])
def test_each_offence_is_caught(source: str, offence: str) -> None:
    path = TESTS / "integration" / "test_example.py"
    found = list(offences(path, ast.parse(source)))
    assert any(offence in o for o in found), found


def test_a_skip_that_fails_in_ci_is_allowed() -> None:
    source = ("import os, pytest\ndef engine():\n    if os.environ.get('CI'):\n"
              "        pytest.fail('no engine in CI')\n    pytest.skip('no engine')\n")
    assert list(offences(TESTS / "conftest.py", ast.parse(source))) == []
