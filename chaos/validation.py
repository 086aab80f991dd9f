"""pydantic's validation errors as located problems: file, line, column, and a fix to try."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from pydantic import BaseModel, ValidationError

from chaos.engine.compose_model import known_keys, model_at
from chaos.errors import Problem
from chaos.yamlsource import YamlDocument, did_you_mean

#: Above this many valid keys, a suggestion is shown alone (a service has over 90 keys).
MAX_LISTED_KEYS = 30


class Locates(Protocol):
    """A document that can say where a path of its data was written."""

    def problem(self, path: Sequence[str | int], message: str) -> Problem: ...


#: The tags of the formats' tagged unions (a value that is a flag or a mapping): pydantic puts
#: the branch in an error's location, where no key of the file is.
UNION_TAGS = frozenset({"<yes or no>", "<how>"})


def problems_from(error: ValidationError, document: YamlDocument | Locates, root: type[BaseModel],
                  refused: Mapping[str, str] | None = None) -> list[Problem]:
    """One problem per error, at the offending key, with the valid keys or the value given."""
    problems = []
    for item in error.errors(include_url=False):
        # A branch of a tagged union is not a key of the file.
        loc = [part for part in item["loc"] if part not in UNION_TAGS]
        message = item["msg"]
        if item["type"] == "extra_forbidden":
            key = str(loc[-1])
            model = model_at(root, tuple(loc[:-1]))
            valid = known_keys(model) if model else []
            if refused and key in refused:
                message = f"'{key}' is not supported: {refused[key]}"
            else:
                suggestion = did_you_mean(key, valid)
                message = f"unknown key '{key}'{suggestion}"
                if valid and (len(valid) <= MAX_LISTED_KEYS or not suggestion):
                    message += f" (valid keys: {', '.join(valid)})"
        elif item["type"] == "missing":
            message = f"`{loc[-1]}` is required"
        elif item["type"] == "value_error":
            message = message.removeprefix("Value error, ")
        elif "input" in item and item["type"].endswith(
                ("_type", "_parsing", "literal_error", "greater_than_equal", "less_than_equal",
                 "greater_than", "too_short", "string_pattern_mismatch")):
            message = f"{message} (got {show(item['input'])})"
        problems.append(document.problem(loc, message))
    return problems


def in_file_order(problems: list[Problem]) -> list[Problem]:
    return sorted(problems, key=lambda p: (p.file, p.line or 0, p.column or 0))


def show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
