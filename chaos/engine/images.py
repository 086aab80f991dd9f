"""The stack's images: a Debian base (pulled, else bootstrapped) and builds by content hash.

An image is tagged with a hash of its build context, its build arguments and
the base image's id, so an unchanged image is never rebuilt.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import docker
from docker.errors import APIError, BuildError, DockerException, ImageNotFound

from chaos.engine import labels
from chaos.engine.compose import ComposeProject
from chaos.engine.hostcmd import run_streaming
from chaos.errors import EngineError, StackError
from chaos.progress import Progress

BASE_TAG = "chaos-harness/base:bookworm"
BASE_PULL = "debian:bookworm-slim"
SUITE = "bookworm"


@dataclass(frozen=True)
class BuiltImage:
    """An image ready for a service: its tag and whether this call built it."""

    tag: str
    built: bool


def ensure_base(client: docker.DockerClient, progress: Progress, *, work_dir: Path) -> str:
    """The id of the local base image, made if missing (pull, else debootstrap)."""
    try:
        return str(client.images.get(BASE_TAG).id)
    except ImageNotFound:
        pass
    progress.info(f"-> no base image yet: trying to pull {BASE_PULL}")
    try:
        image = client.images.pull(BASE_PULL)
    except DockerException as e:
        # No registry here is the normal case on a closed machine: it fails in ~50 ms.
        reason = getattr(e, "explanation", None) or _first_line(e)
        progress.info(f"   no registry answers ({str(reason)[:100]}); bootstrapping one locally")
        return _bootstrap_base(client, progress, work_dir)
    image.tag(BASE_TAG)
    progress.info(f"   pulled {BASE_PULL} as {BASE_TAG}")
    return str(image.id)


def _bootstrap_base(client: docker.DockerClient, progress: Progress, work_dir: Path) -> str:
    if os.geteuid() != 0:
        raise EngineError("no base image and no registry: bootstrapping one needs root",
                          hint=f"run `drill images` as root once, or load a {BASE_PULL} image")
    if not shutil.which("debootstrap"):
        with progress.step("installing debootstrap"):
            env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
            run_streaming(["apt-get", "update", "-q"], progress, env=env)
            run_streaming(["apt-get", "install", "-y", "-q", "debootstrap"], progress, env=env)
    work_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="base-", dir=work_dir) as tmp:
        rootfs = Path(tmp) / "rootfs"
        with progress.step(f"bootstrapping a Debian {SUITE} base image (about a minute)"):
            run_streaming(["debootstrap", "--variant=minbase", SUITE, str(rootfs)], progress)
        tarball = Path(tmp) / "rootfs.tar"
        with progress.step(f"importing it as {BASE_TAG}"):
            run_streaming(["tar", "-C", str(rootfs), "-cf", str(tarball), "."], progress)
            repository, tag = BASE_TAG.split(":")
            try:
                client.api.import_image_from_file(str(tarball), repository=repository, tag=tag)
                return str(client.images.get(BASE_TAG).id)
            except DockerException as e:
                raise EngineError(f"importing the base image failed: {e}") from e


def context_hash(context: Path, dockerfile: str, args: dict[str, str]) -> str:
    """A digest of everything that goes into a build."""
    digest = hashlib.sha256()
    digest.update(f"dockerfile={dockerfile}\n".encode())
    for key in sorted(args):
        digest.update(f"arg {key}={args[key]}\n".encode())
    for path in sorted(p for p in context.rglob("*") if p.is_file()):
        relative = path.relative_to(context).as_posix()
        executable = os.access(path, os.X_OK)
        digest.update(f"file {relative} {int(executable)} {path.stat().st_size}\n".encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def ensure_images(client: docker.DockerClient, project: ComposeProject, progress: Progress,
                  *, work_dir: Path, force: bool = False) -> dict[str, BuiltImage]:
    """Make sure every service's image exists; return service -> image."""
    result: dict[str, BuiltImage] = {}
    by_context: dict[tuple[str, str, tuple[tuple[str, str], ...]], BuiltImage] = {}
    base_id: str | None = None
    for name in project.order:
        service = project.service(name)
        if service.build is None:
            assert service.image is not None
            result[name] = BuiltImage(_ensure_pulled(client, service.image, progress), built=False)
            continue
        context = project.resolve(service.build.context)
        if not (context / service.build.dockerfile).is_file():
            raise StackError(f"{project.file}: service {name}: no {service.build.dockerfile} "
                             f"in build context {context}")
        key = (str(context), service.build.dockerfile, tuple(sorted(service.build.args.items())))
        if key not in by_context:
            if base_id is None:
                base_id = ensure_base(client, progress, work_dir=work_dir)
            args = {"BASE_IMAGE": BASE_TAG, **service.build.args}
            digest = context_hash(context, service.build.dockerfile, {**args, "base": base_id})
            tag = f"{_repository(service.image) or 'chaos-harness/' + context.name}:{digest[:12]}"
            by_context[key] = _build(client, context, service.build.dockerfile, args, tag,
                                     progress, force=force)
        result[name] = by_context[key]
    return result


def _build(client: docker.DockerClient, context: Path, dockerfile: str, args: dict[str, str],
           tag: str, progress: Progress, *, force: bool) -> BuiltImage:
    if not force:
        try:
            client.images.get(tag)
            progress.info(f"   image {tag} is up to date")
            return BuiltImage(tag, built=False)
        except ImageNotFound:
            pass
    with progress.step(f"building {tag} from {context}"):
        output: list[str] = []
        try:
            for chunk in client.api.build(path=str(context), dockerfile=dockerfile, tag=tag,
                                          buildargs=args, rm=True, forcerm=True, decode=True,
                                          labels={labels.IMAGE: context.name}):
                if "stream" in chunk:
                    line = chunk["stream"].rstrip()
                    if line:
                        output.append(line)
                        progress.detail(line, force=line.startswith("Step "))
                if "error" in chunk:
                    tail = "\n".join(output[-20:])
                    raise StackError(f"building {tag} failed: {chunk['error'].strip()}",
                                     logs=tail)
        except (BuildError, APIError) as e:
            raise StackError(f"building {tag} failed: {e}", logs="\n".join(output[-20:])) from e
    return BuiltImage(tag, built=True)


def _ensure_pulled(client: docker.DockerClient, image: str, progress: Progress) -> str:
    try:
        client.images.get(image)
        return image
    except ImageNotFound:
        pass
    with progress.step(f"pulling {image}"):
        try:
            client.images.pull(image)
        except DockerException as e:
            raise StackError(f"image {image} is not here and cannot be pulled ({_first_line(e)})",
                             hint="build it locally, or give the service a `build:` context") from e
    return image


def _repository(image: str | None) -> str | None:
    """`name:tag` -> `name` (a registry's `host:port/` prefix kept)."""
    if not image:
        return None
    head, _, last = image.rpartition("/")
    return (head + "/" if head else "") + last.split(":", 1)[0]


def _first_line(error: Exception) -> str:
    return str(error).strip().splitlines()[0][:160] if str(error).strip() else type(error).__name__
