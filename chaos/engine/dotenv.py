"""`.env` files, read as `docker compose` reads them for interpolation.

One `KEY=VALUE` per line; blank lines and `#` comments are skipped, a leading
`export ` is allowed. A value is unquoted (trimmed; ` #` starts a comment),
in single quotes (taken as written) or in double quotes (`\\n`, `\\t`, `\\"`,
`\\\\` escapes). Unquoted and double-quoted values interpolate `${VAR}` from
the keys above them, then from the environment given.
"""

from __future__ import annotations

import re
import stat
from collections.abc import Mapping
from pathlib import Path

from chaos.engine.interpolation import InterpolationError, Interpolator
from chaos.errors import InputError, Problem

MAX_BYTES = 1024 * 1024
_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]*")
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", '"': '"', "\\": "\\", "$": "$"}
_ESCAPE = re.compile(r'\\([ntr"\\$])')


def read_env_file(path: Path, environment: Mapping[str, str]) -> dict[str, str]:
    """The variables of `path`; raises InputError naming file and line for each bad one."""
    try:
        mode = path.stat().st_mode
        if stat.S_ISDIR(mode):
            raise InputError(f"{path}: is a folder, not a file")
        if not stat.S_ISREG(mode):  # a FIFO would block, /dev/zero never end
            raise InputError(f"{path}: not a regular file")
        if path.stat().st_size > MAX_BYTES:
            raise InputError(f"{path}: over {MAX_BYTES} bytes, the limit for an env file")
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as e:
        raise InputError(f"{path}: cannot be read: {e}") from None
    found: dict[str, str] = {}
    problems: list[Problem] = []
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        try:
            key, value = _parse_line(stripped, {**environment, **found})
        except ValueError as e:
            problems.append(Problem(str(path), number, None, "", str(e)))
            continue
        found[key] = value
    if problems:
        raise InputError(problems)
    return found


def _parse_line(line: str, known: Mapping[str, str]) -> tuple[str, str]:
    if line.startswith("export "):
        line = line[len("export "):]  # the key is stripped below
    key, sep, raw = line.partition("=")
    key = key.strip()
    if not sep:
        raise ValueError(f"'{line}': a line is KEY=VALUE (or a # comment)")
    if not _KEY.fullmatch(key):
        raise ValueError(f"'{key}': a variable name is letters, digits and '_', "
                         "starting with a letter or '_'")
    raw = raw.strip()
    try:
        if raw.startswith("'"):
            return key, _closed(raw, "'")
        if raw.startswith('"'):
            return key, Interpolator(known)(_unescape(_closed(raw, '"')))
        value = re.split(r"\s#", raw)[0].rstrip()
        return key, Interpolator(known)(value)
    except InterpolationError as e:
        raise ValueError(f"{key}: {e}") from None


def _closed(raw: str, quote: str) -> str:
    """What is between the opening quote and its closing one (a `\\"` does not close)."""
    at = 1
    while at < len(raw):
        if quote == '"' and raw[at] == "\\":
            at += 2
            continue
        if raw[at] == quote:
            rest = raw[at + 1:].strip()
            if rest and not rest.startswith("#"):
                raise ValueError(f"text after the closing {quote}: '{rest}'")
            return raw[1:at]
        at += 1
    raise ValueError(f"a value opened with {quote} is not closed on its line")


def _unescape(text: str) -> str:
    # `\$` stays a `$$` so interpolation leaves it a literal dollar.
    return _ESCAPE.sub(lambda m: "$$" if m[1] == "$" else _ESCAPES[m[1]], text)
