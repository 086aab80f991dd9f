"""Which images a project needs: pulled, or built as its `build:` says; a missing one is
reported, with the ways out, before anything is built or started."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from docker.errors import APIError, ImageNotFound

from chaos.engine.compose import load_compose
from chaos.engine.images import build_plan, ensure_images
from chaos.errors import StackError
from chaos.progress import Progress


class FakeImages:
    """Images of an engine where nothing is pulled (no registry answers)."""

    def __init__(self, present: set[str]) -> None:
        self.present = present
        self.pulled: list[str] = []

    def get(self, name: str) -> object:
        if name not in self.present:
            raise ImageNotFound(name)
        return object()

    def pull(self, name: str) -> object:
        self.pulled.append(name)
        raise APIError("Get https://registry-1.docker.io/v2/: dial tcp: lookup failed")


class FakeClient:
    def __init__(self, present: set[str]) -> None:
        self.images = FakeImages(present)
        self.api: Any = None  # a build would fail here: none must be tried


def project_of(tmp_path: Path, text: str) -> Any:
    path = tmp_path / "compose.yml"
    path.write_text(text)
    return load_compose(path, {})


def test_missing_images_are_all_named_before_anything_is_built(tmp_path: Path) -> None:
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "Dockerfile").write_text("FROM scratch\n")
    project = project_of(tmp_path, """\
services:
  app: {build: ./app}
  db: {image: "postgres:16"}
  cache: {image: "redis:7"}
  here: {image: "nginx:here"}
""")
    client = FakeClient({"nginx:here"})
    with pytest.raises(StackError) as caught:
        ensure_images(client, project, Progress(quiet=True), work_dir=tmp_path)  # type: ignore[arg-type]
    message = caught.value.message
    assert "postgres:16 (service db): cannot be pulled" in message
    assert "redis:7 (service cache): cannot be pulled" in message
    assert "nginx:here" not in message
    assert "`build:`" in (caught.value.hint or "") and "docker load" in (caught.value.hint or "")
    assert sorted(client.images.pulled) == ["postgres:16", "redis:7"]


def test_build_plan_takes_target_labels_args_and_an_inline_dockerfile(tmp_path: Path) -> None:
    (tmp_path / "api").mkdir()
    project = project_of(tmp_path, """\
services:
  api:
    build:
      context: ./api
      dockerfile_inline: |
        FROM chaos-harness/base:bookworm AS runtime
        CMD ["true"]
      target: runtime
      args: [VERSION=1.2]
      labels: {team: shop}
      no_cache: true
""")
    plan = build_plan(project, "api", tmp_path / "work")
    assert plan.context == str(tmp_path / "api")
    assert Path(plan.dockerfile).is_absolute()
    assert Path(plan.dockerfile).read_text().startswith("FROM chaos-harness/base:bookworm")
    assert (plan.target, plan.args, plan.labels) == ("runtime", {"VERSION": "1.2"},
                                                      {"team": "shop"})
    assert plan.options == {"nocache": True}


def test_a_missing_dockerfile_is_named(tmp_path: Path) -> None:
    (tmp_path / "api").mkdir()
    project = project_of(tmp_path, "services:\n  api:\n    build: {context: ./api, "
                                   "dockerfile: Containerfile}\n")
    with pytest.raises(StackError) as caught:
        build_plan(project, "api", tmp_path)
    assert f"no Containerfile in build context {tmp_path / 'api'}" in caught.value.message
