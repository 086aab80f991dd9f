"""Import a locustfile as Locust would and print what it offers, as JSON: `python -m` only.

    python -m chaos.load.locustfile_inspect FILE

Run by :func:`chaos.load.traffic.inspect_locustfile` in a process of its own, so
the harness stays free of gevent.  Prints one JSON object: `classes` (each User
class: name, weight, fixed_count, host, tasks), `shapes` (LoadTestShape classes),
or `error` with the file's line when importing it failed.
"""

from __future__ import annotations

import json
import sys
import traceback
from pathlib import Path
from typing import Any


def _where(error: BaseException, path: Path) -> int | None:
    """The line of `path` where importing it failed, if the failure came from it."""
    if isinstance(error, SyntaxError) and error.filename and Path(error.filename).resolve() == path:
        return error.lineno
    line = None
    for frame in traceback.extract_tb(error.__traceback__):
        if frame.filename and Path(frame.filename).resolve() == path:
            line = frame.lineno
    return line


def inspect(path: Path) -> dict[str, Any]:
    from locust.util.load_locustfile import load_locustfile  # gevent: this process only

    try:
        classes, shapes = load_locustfile(str(path))
    except SystemExit as e:
        return {"error": f"it called sys.exit({e.code!r}) while being imported", "line": None}
    except BaseException as e:  # noqa: BLE001 — any failure of the user's code is the answer
        return {"error": f"{type(e).__name__}: {e}", "line": _where(e, path)}
    return {"classes": [{"name": name, "weight": int(getattr(cls, "weight", 1) or 0),
                         "fixed_count": int(getattr(cls, "fixed_count", 0) or 0),
                         "host": getattr(cls, "host", None) or None,
                         "tasks": len(getattr(cls, "tasks", []) or [])}
                        for name, cls in classes.items()],
            "shapes": [type(shape).__name__ for shape in shapes]}


def main() -> None:
    path = Path(sys.argv[1]).resolve()
    found = inspect(path)
    sys.stdout.flush()
    # The last line is ours: the user's file may print while it is imported.
    print("\n" + json.dumps(found), flush=True)


if __name__ == "__main__":
    main()
