"""Variables in a compose file, substituted exactly as `docker compose` does.

`$NAME` and `${NAME}` take the variable's value; a variable that is not set
gives an empty string (compose warns, and so do we: see `Interpolator.unset`).
In `${NAME<op>word}` the word is itself interpolated, so defaults nest
(`${A:-${B:-x}}`):

=========== =============================================================
`:-word`    the word when NAME is unset or empty, else its value
`-word`     the word when NAME is unset, else its value (empty included)
`:?message` an error with the message when NAME is unset or empty
`?message`  an error with the message when NAME is unset
`:+word`    the word when NAME is set and not empty, else empty
`+word`     the word when NAME is set (empty included), else empty
=========== =============================================================

`$$` is a literal `$`. A `$` followed by anything else is an error, as in
compose: write it `$$`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

#: The operators of `${NAME<op>word}`, longest first (`:-` before `-`).
OPERATORS = (":-", ":?", ":+", "-", "?", "+")
_NAME_START = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz_")
_NAME_CHARS = _NAME_START | frozenset("0123456789")


class InterpolationError(ValueError):
    """A text that cannot be interpolated, and why."""


@dataclass
class Interpolator:
    """Substitutes variables; remembers the names used without a value."""

    variables: Mapping[str, str]
    #: Names substituted while unset (each gave an empty string), in first-use order.
    unset: list[str] = field(default_factory=list)

    def __call__(self, text: str) -> str:
        """`text` with every variable substituted; raises InterpolationError."""
        return self._scan(text, 0, closing=False)[0]

    def _scan(self, text: str, at: int, *, closing: bool) -> tuple[str, int]:
        """Text from `at` up to the end, or (with `closing`) up to its unmatched `}`.

        Returns the substituted text and the index just past where it stopped.
        """
        out: list[str] = []
        while at < len(text):
            char = text[at]
            if closing and char == "}":
                return "".join(out), at + 1
            if char != "$":
                out.append(char)
                at += 1
                continue
            following = text[at + 1:at + 2]
            if following == "$":
                out.append("$")
                at += 2
            elif following == "{":
                value, at = self._braced(text, at + 2)
                out.append(value)
            elif following in _NAME_START:  # "" (the end) is no name's start
                name, at = _name(text, at + 1)
                out.append(self._value(name))
            else:
                where = f" before '{following}'" if following else " at the end"
                raise InterpolationError(f"a lone '$'{where}: a '$' not starting a variable "
                                         "must be written '$$'")
        if closing:
            raise InterpolationError("a '${' without its closing '}'")
        return "".join(out), at

    def _braced(self, text: str, at: int) -> tuple[str, int]:
        """`${...}` from just past its `{`: the value and the index past its `}`."""
        name, after = _name(text, at)
        if not name:
            shown = text[at:text.find("}", at)] if "}" in text[at:] else text[at:]
            raise InterpolationError(f"'${{{shown}}}': a variable name starts with a letter or '_'"
                                     if shown else "'${}': the variable's name is missing")
        if text[after:after + 1] == "}":
            return self._value(name), after + 1
        operator = next((op for op in OPERATORS if text.startswith(op, after)), None)
        if operator is None:
            if after >= len(text):
                raise InterpolationError(f"'${{{name}' without its closing '}}'")
            close = text.find("}", after)
            shown = text[at - 2:close + 1] if close >= 0 else text[at - 2:]
            raise InterpolationError(
                f"'{shown}': after a variable's name comes '}}' or one of "
                + ", ".join(f"'{op}'" for op in OPERATORS))
        start = after + len(operator)
        # The word is scanned now (its errors count wherever it is used, as in compose);
        # a nested variable unset is reported only when the word is what the result takes.
        probe = Interpolator(self.variables)
        word, end = probe._scan(text, start, closing=True)
        value = self.variables.get(name)
        empty_counts = operator.startswith(":")
        missing = value is None or (empty_counts and value == "")
        kind = operator[-1]
        if kind == "?" and missing:
            what = "is not set" if value is None else "is empty"
            raise InterpolationError(f"variable {name} is required ({what}): {word or 'give it a value'}")
        takes_word = (kind == "-" and missing) or (kind == "+" and not missing)
        if takes_word:
            self.unset.extend(n for n in probe.unset if n not in self.unset)
            return word, end
        return ("" if kind == "+" else str(value)), end

    def _value(self, name: str) -> str:
        value = self.variables.get(name)
        if value is None:
            if name not in self.unset:
                self.unset.append(name)
            return ""
        return str(value)


def _name(text: str, at: int) -> tuple[str, int]:
    """The variable name starting at `at` ("" when none starts there) and the index past it."""
    if text[at:at + 1] not in _NAME_START:  # also at the end: "" is no name's start
        return "", at
    end = at + 1
    while end < len(text) and text[end] in _NAME_CHARS:
        end += 1
    return text[at:end], end


def interpolate(text: str, variables: Mapping[str, str]) -> str:
    """`text` with its variables substituted (see the module); raises InterpolationError."""
    return Interpolator(variables)(text)
