"""`.env` files: read as docker compose reads them, bad lines located."""

from __future__ import annotations

from pathlib import Path

import pytest

from chaos.engine.compose import load_compose
from chaos.engine.dotenv import read_env_file
from chaos.errors import InputError

STACK = "services:\n  web:\n    image: ${IMAGE}\n    environment:\n      GREETING: ${GREETING:-none}\n"


def env_file(tmp_path: Path, text: str) -> Path:
    path = tmp_path / ".env"
    path.write_text(text)
    return path


def test_values_plain_quoted_exported_and_commented(tmp_path: Path) -> None:
    path = env_file(tmp_path, "\n".join([
        "# a comment", "", "PLAIN=value", "SPACED =  padded  ", "export EXPORTED=yes",
        "INLINE=kept  # dropped # twice", "HASH=a#b", "EQ=b=c", "EMPTYQ=''", 'EMPTYD=""',
        "QCOMMENT='q' # said", "export   SPACED_EXPORT=s", "SINGLE='${NOT} \\n as written'",
        'DOUBLE="line\\nnext \\"quoted\\""', "EMPTY=", "REF=${PLAIN}-x", 'DREF="${HOME_DIR}/y"',
        "DOLLAR='$5'", 'ESCAPED="\\$5"',
    ]) + "\n")
    assert read_env_file(path, {"HOME_DIR": "/home/u"}) == {
        "PLAIN": "value", "SPACED": "padded", "EXPORTED": "yes", "INLINE": "kept", "HASH": "a#b", "EQ": "b=c",
        "EMPTYQ": "", "EMPTYD": "", "QCOMMENT": "q", "SPACED_EXPORT": "s",
        "SINGLE": "${NOT} \\n as written", "DOUBLE": 'line\nnext "quoted"', "EMPTY": "",
        "REF": "value-x", "DREF": "/home/u/y", "DOLLAR": "$5", "ESCAPED": "$5"}


@pytest.mark.parametrize("line, message", [
    ("NOEQUALS", "'NOEQUALS': a line is KEY=VALUE (or a # comment)"),
    ("1BAD=x", "'1BAD': a variable name is letters, digits and '_', starting with a letter or '_'"),
    ("OPEN='never closed", "a value opened with ' is not closed on its line"),
    ('AFTER="x" y', "text after the closing \": 'y'"),
    ('TIGHT="x"y', "text after the closing \": 'y'"),
    ("BROKEN=${X", "BROKEN: '${X' without its closing '}'"),
])
def test_a_bad_line_is_named_with_its_line(tmp_path: Path, line: str, message: str) -> None:
    path = env_file(tmp_path, f"GOOD=1\n{line}\n")
    with pytest.raises(InputError) as caught:
        read_env_file(path, {})
    (problem,) = caught.value.problems
    assert str(problem) == f"{path}:2: {message}"


def test_every_bad_line_is_named(tmp_path: Path) -> None:
    path = env_file(tmp_path, "ONE\nGOOD=1\nTWO\n")
    with pytest.raises(InputError) as caught:
        read_env_file(path, {})
    assert [p.line for p in caught.value.problems] == [1, 3]


def test_an_env_file_that_is_a_folder_says_so(tmp_path: Path) -> None:
    with pytest.raises(InputError) as caught:
        read_env_file(tmp_path, {})
    assert str(caught.value) == f"{tmp_path}: is a folder, not a file"


def test_the_env_file_beside_the_compose_file_is_read_and_the_environment_wins(tmp_path: Path) -> None:
    env_file(tmp_path, "IMAGE=nginx:from-env-file\nGREETING=hello\n")
    compose = tmp_path / "stack.yml"
    compose.write_text(STACK)
    project = load_compose(compose, {"GREETING": "from the shell"})
    assert project.service("web").image == "nginx:from-env-file"
    assert project.service("web").environment["GREETING"] == "from the shell"
    assert project.notes == ()


def test_env_files_given_replace_the_default_one(tmp_path: Path) -> None:
    env_file(tmp_path, "IMAGE=nginx:default\n")
    (tmp_path / "a.env").write_text("IMAGE=nginx:a\nGREETING=a\n")
    (tmp_path / "b.env").write_text("IMAGE=nginx:b\n")
    compose = tmp_path / "stack.yml"
    compose.write_text(STACK)
    project = load_compose(compose, {}, env_files=[tmp_path / "a.env", tmp_path / "b.env"])
    assert project.service("web").image == "nginx:b"
    assert project.service("web").environment["GREETING"] == "a"


def test_a_missing_env_file_given_is_an_error(tmp_path: Path) -> None:
    compose = tmp_path / "stack.yml"
    compose.write_text(STACK)
    with pytest.raises(InputError, match="nope.env: no such file"):
        load_compose(compose, {}, env_files=[tmp_path / "nope.env"])


def test_an_env_file_that_is_not_a_regular_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InputError) as caught:
        read_env_file(Path("/dev/zero"), {})
    assert caught.value.message == "/dev/zero: not a regular file"


def test_a_missing_env_file_and_one_too_big_are_named(tmp_path: Path) -> None:
    from chaos.engine.dotenv import MAX_BYTES

    with pytest.raises(InputError) as caught:
        read_env_file(tmp_path / "nope.env", {})
    assert caught.value.message == f"{tmp_path / 'nope.env'}: no such file"
    big = tmp_path / "big.env"
    big.write_text("#" * MAX_BYTES)
    assert read_env_file(big, {}) == {}  # the limit itself is fine
    big.write_text("#" * (MAX_BYTES + 1))
    with pytest.raises(InputError) as caught:
        read_env_file(big, {})
    assert caught.value.message == f"{big}: over {MAX_BYTES} bytes, the limit for an env file"


def test_an_env_file_not_in_utf8_says_it_cannot_be_read(tmp_path: Path) -> None:
    latin = tmp_path / "latin.env"
    latin.write_bytes(b"NAME=caf\xe9\n")
    with pytest.raises(InputError) as caught:
        read_env_file(latin, {})
    assert caught.value.message.startswith(f"{latin}: cannot be read: 'utf-8' codec")
