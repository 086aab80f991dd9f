"""The stack's images: a Debian base (pulled, else bootstrapped) and builds by content hash.

An image is tagged with a hash of its build context, its build arguments and
the base image's id, so an unchanged image is never rebuilt.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import docker
from docker.errors import APIError, BuildError, DockerException, ImageNotFound

from chaos.engine import labels
from chaos.engine.compose import ComposeProject
from chaos.engine.compose_normalize import is_remote_context, mapping
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
    """A digest of everything that goes into a build: the Dockerfile, its args, every file."""
    digest = hashlib.sha256()
    digest.update(f"dockerfile={dockerfile}\n".encode())
    for key in sorted(args):
        digest.update(f"arg {key}={args[key]}\n".encode())
    if context.is_dir():
        for path in sorted(p for p in context.rglob("*") if p.is_file()):
            relative = path.relative_to(context).as_posix()
            executable = os.access(path, os.X_OK)
            digest.update(f"file {relative} {int(executable)} {path.stat().st_size}\n".encode())
            digest.update(path.read_bytes())
    else:
        digest.update(f"remote {context}\n".encode())
    return digest.hexdigest()


@dataclass(frozen=True)
class BuildPlan:
    """One image to build, as the compose file describes it."""

    context: str
    #: The Dockerfile's path for the engine (relative to the context, or absolute).
    dockerfile: str
    dockerfile_text: str
    args: dict[str, str]
    target: str | None
    labels: dict[str, str]
    options: dict[str, object]

    def key(self) -> str:
        return json.dumps([self.context, self.dockerfile_text, self.args, self.target, self.labels,
                           {k: str(v) for k, v in self.options.items()}], sort_keys=True)


def build_plan(project: ComposeProject, name: str, work_dir: Path) -> BuildPlan:
    """How to build service `name`'s image; StackError when its Dockerfile is missing."""
    build = project.service(name).build
    assert build is not None
    remote = is_remote_context(build.context)
    context = build.context if remote else str(project.resolve(build.context))
    if build.dockerfile_inline is not None:
        text = build.dockerfile_inline
        inline = work_dir / "inline" / hashlib.sha256(text.encode()).hexdigest()[:16] / "Dockerfile"
        inline.parent.mkdir(parents=True, exist_ok=True)
        inline.write_text(text)
        dockerfile = str(inline)
    else:
        dockerfile = build.dockerfile or "Dockerfile"
        text = ""
        if not remote:
            path = Path(dockerfile) if Path(dockerfile).is_absolute() else Path(context) / dockerfile
            if not path.is_file():
                raise StackError(f"{project.file}: service {name}: no {dockerfile} in build "
                                 f"context {context}",
                                 hint="fix build.context or build.dockerfile, or write the "
                                      "Dockerfile inline with build.dockerfile_inline")
            text = path.read_text(errors="replace")
    options: dict[str, object] = {}
    if build.no_cache:
        options["nocache"] = True
    if build.pull:
        options["pull"] = True
    if build.network:
        options["network_mode"] = build.network
    if build.shm_size:
        options["shmsize"] = build.shm_size
    if build.cache_from:
        options["cache_from"] = list(build.cache_from)
    hosts = mapping(build.extra_hosts, separators="=:") if build.extra_hosts else None
    if isinstance(hosts, dict) and hosts:
        options["extra_hosts"] = {str(k): str(v) for k, v in hosts.items()}
    return BuildPlan(context, dockerfile, text, dict(build.args), build.target,
                     dict(build.labels), options)


def ensure_images(client: docker.DockerClient, project: ComposeProject, progress: Progress,
                  *, work_dir: Path, force: bool = False) -> dict[str, BuiltImage]:
    """Make sure every service's image exists; return service -> image.

    Images to pull are pulled first, all of them, so a missing one is reported
    before anything is built or started; then images are built (once per build).
    """
    result: dict[str, BuiltImage] = {}
    to_build: list[str] = []
    missing: list[str] = []
    for name in project.order:
        service = project.service(name)
        policy = (service.pull_policy or "missing").replace("if_not_present", "missing")
        if service.build is not None and (policy == "build" or service.image is None
                                          or not _present(client, service.image)):
            to_build.append(name)
            continue
        assert service.image is not None
        try:
            result[name] = BuiltImage(_ensure_pulled(client, service.image, progress,
                                                     always=policy == "always"), built=False)
        except StackError as e:
            missing.append(f"{service.image} (service {name}): {e.message}")
    if missing:
        raise StackError("images not here and not pulled:\n  " + "\n  ".join(missing),
                         hint="no registry answers here: give the service a `build:` (a local "
                              "Dockerfile), or load the image with `docker load -i FILE`")
    by_build: dict[str, BuiltImage] = {}
    base_id: str | None = None
    for name in to_build:
        service = project.service(name)
        plan = build_plan(project, name, work_dir)
        if plan.key() not in by_build:
            args = dict(plan.args)
            if "BASE_IMAGE" in plan.dockerfile_text or BASE_TAG in plan.dockerfile_text:
                if base_id is None:
                    base_id = ensure_base(client, progress, work_dir=work_dir)
                args = {"BASE_IMAGE": BASE_TAG, **args}
            # Only what is given goes in: an unchanged bundled image keeps its tag.
            extra = {"base": base_id or "", "target": plan.target or None,
                     "labels": json.dumps(plan.labels, sort_keys=True) if plan.labels else None,
                     "options": json.dumps({k: str(v) for k, v in plan.options.items()})
                     if plan.options else None,
                     # A Dockerfile outside the context (or inline) is not among its files.
                     "dockerfile_text": plan.dockerfile_text
                     if Path(plan.dockerfile).is_absolute() else None}
            digest = context_hash(Path(plan.context), plan.dockerfile,
                                  {**args, **{k: v for k, v in extra.items() if v is not None}})
            context_name = Path(plan.context).name or "context"
            tag = f"{_repository(service.image) or 'chaos-harness/' + context_name}:{digest[:12]}"
            by_build[plan.key()] = _build(client, plan, args, tag, progress, force=force)
        result[name] = by_build[plan.key()]
    return result


def _present(client: docker.DockerClient, image: str) -> bool:
    try:
        client.images.get(image)
        return True
    except ImageNotFound:
        return False
    except DockerException as e:
        raise EngineError(f"inspecting image {image} failed: {e}") from e


def _build(client: docker.DockerClient, plan: BuildPlan, args: dict[str, str], tag: str,
           progress: Progress, *, force: bool) -> BuiltImage:
    if not force and _present(client, tag):
        progress.info(f"   image {tag} is up to date")
        return BuiltImage(tag, built=False)
    where = plan.context + (f" (target {plan.target})" if plan.target else "")
    with progress.step(f"building {tag} from {where}"):
        output: list[str] = []
        try:
            for chunk in client.api.build(path=plan.context, dockerfile=plan.dockerfile, tag=tag,
                                          buildargs=args, rm=True, forcerm=True, decode=True,
                                          target=plan.target,
                                          labels={**plan.labels,
                                                  labels.IMAGE: Path(plan.context).name},
                                          **plan.options):
                if "stream" in chunk:
                    line = chunk["stream"].rstrip()
                    if line:
                        output.append(line)
                        progress.detail(line, force=line.startswith("Step "))
                if "error" in chunk:
                    tail = "\n".join(output[-20:])
                    raise StackError(f"building {tag} failed: {chunk['error'].strip()}",
                                     logs=tail, hint=_build_hint(chunk["error"]))
        except (BuildError, APIError) as e:
            raise StackError(f"building {tag} failed: {e}", logs="\n".join(output[-20:]),
                             hint=_build_hint(str(e))) from e
    return BuiltImage(tag, built=True)


def _build_hint(error: str) -> str | None:
    if "pull access denied" in error or "not found" in error or "dial tcp" in error \
            or "lookup" in error:
        return ("a base image (FROM) is not here and no registry answers: load it with "
                "`docker load -i FILE`, or build FROM ${BASE_IMAGE} (the harness's local "
                f"Debian base, {BASE_TAG})")
    return None


def _ensure_pulled(client: docker.DockerClient, image: str, progress: Progress,
                   *, always: bool = False) -> str:
    if not always and _present(client, image):
        return image
    with progress.step(f"pulling {image}"):
        try:
            client.images.pull(image)
        except DockerException as e:
            if always and _present(client, image):
                progress.info(f"   pull failed ({_first_line(e)}); using the local {image}")
                return image
            raise StackError(f"cannot be pulled ({_first_line(e)})") from e
    return image


def _repository(image: str | None) -> str | None:
    """`name:tag` -> `name` (a registry's `host:port/` prefix kept)."""
    if not image:
        return None
    head, _, last = image.rpartition("/")
    return (head + "/" if head else "") + last.split(":", 1)[0]


def _first_line(error: Exception) -> str:
    return str(error).strip().splitlines()[0][:160] if str(error).strip() else type(error).__name__
