"""Reading results back: result.json files (one run) and suite folders, checked against the schema.

Reports, comparisons and the pytest plugin all start from files a drill
wrote, perhaps on another machine or by an older harness; a file that is
missing, not JSON or not a result gets an error naming it, not a traceback.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from chaos.errors import InputError

#: The schema of result.json, shipped with the package.
SCHEMA_FILE = "result.schema.json"
#: Results of this version and older are read; version 1 lacked the environment,
#: parameters, stack, artifacts and stack events.
READABLE_VERSIONS = (1, 2)


@cache
def result_schema() -> dict[str, Any]:
    """The JSON Schema of result.json (the current version)."""
    text = resources.files("chaos.report").joinpath(SCHEMA_FILE).read_text()
    schema: dict[str, Any] = json.loads(text)
    return schema


def schema_problems(data: Any) -> list[str]:
    """What is wrong with `data` as a current result.json: `path: message` lines, none if valid."""
    import jsonschema
    from jsonschema.exceptions import best_match

    validator = jsonschema.Draft202012Validator(result_schema())
    problems = []
    for error in sorted(validator.iter_errors(data), key=lambda e: list(e.absolute_path)):
        # "null or an object": say what is wrong with the object, not that it is not null.
        while error.context:
            telling = [c for c in error.context if c.validator != "type"] or error.context
            error = best_match(telling)
        where = "/".join(str(p) for p in error.absolute_path) or "(top level)"
        problems.append(f"{where}: {error.message}")
    return problems


def load_result(path: Path) -> dict[str, Any]:
    """One run's result from its folder or its result.json; InputError when it is not one."""
    file = path / "result.json" if path.is_dir() else path
    if not file.exists():
        hint = ("a run folder holds result.json; a suite folder holds one per run"
                if path.is_dir() else "give a result.json or the run folder `drill run` printed")
        raise InputError(f"{file}: no such result", hint=hint)
    try:
        data = json.loads(file.read_text())
    except (OSError, UnicodeDecodeError, ValueError) as e:
        raise InputError(f"{file}: not a readable JSON file ({e})",
                         hint="give the result.json a drill wrote") from None
    if not isinstance(data, dict) or "scenario" not in data or "outcome" not in data:
        raise InputError(f"{file}: not a drill result (no scenario and outcome)",
                         hint="give the result.json a drill wrote (a suite's results.json is a list: "
                              "give its folder instead)")
    version = data.get("schema_version")
    if version not in READABLE_VERSIONS:
        raise InputError(f"{file}: result schema version {version!r} is not one this harness reads "
                         f"({', '.join(map(str, READABLE_VERSIONS))})",
                         hint="read it with the harness version that wrote it")
    data.setdefault("out_dir", str(file.parent))
    return data


def find_results(path: Path) -> list[Path]:
    """Every result.json in a run or suite folder (a file is itself), in run order."""
    if path.is_file():
        return [path]
    if not path.is_dir():
        raise InputError(f"{path}: no such file or folder",
                         hint="give a run folder, a suite folder or a result.json")
    found = sorted(path.rglob("result.json"),
                   key=lambda p: (_started_at(p), str(p)))
    if not found:
        raise InputError(f"{path}: holds no result.json", hint="give the folder `drill run` printed")
    return found


def _started_at(file: Path) -> float:
    try:
        return float(json.loads(file.read_text()).get("started_at") or 0.0)
    except (OSError, ValueError, AttributeError):
        return 0.0
