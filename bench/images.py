"""Cold builds of the stack's images (server, edge): seconds of each, over N rounds.

    .venv/bin/python bench/images.py [--rounds 2]

Each round removes this checkout's chaos-harness/server and chaos-harness/edge images (the
tags `drill images` names) and times:
  cold      each image built with no layer cache at all (`nocache`: every step runs, the
            packages are downloaded again), same context, arguments and tag as `drill images`;
  drill     `drill images` once the images are removed again, as a person runs it (the layer
            cache other tags of the same image still hold is used: what a change to a context
            costs);
  check     `drill images` with every image there (hashing the contexts, nothing built).
The base image (chaos-harness/base:bookworm, debootstrapped once) is kept: removing it would
change every image's hash and make every other checkout on this engine rebuild.  An image in
use by a container is not removed (the round is skipped and says why).  Whatever happens, the
images are there again at the end.  About 1-2 min a round (most of it the server's packages).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import docker
from common import (
    ROOT,
    BenchError,
    Drill,
    Rounds,
    Spread,
    arguments,
    machine,
    main_guard,
    print_disturbed,
    print_table,
    private_drill,
    render,
    sigint_deferred,
    surroundings,
)
from docker.errors import APIError, ImageNotFound

from chaos.engine.images import BASE_TAG

CONTEXTS = {"server": ROOT / "compose" / "images" / "server", "edge": ROOT / "compose" / "images" / "edge"}


def current_tags(drill: Drill) -> dict[str, str]:
    """Context name -> the tag `drill images` uses now (building what is missing)."""
    done = drill.run("images").check()
    tags: dict[str, str] = {}
    for line in done.stdout.splitlines():
        parts = line.split()
        if len(parts) >= 2 and parts[1].startswith("chaos-harness/"):
            tags[parts[1].split("/", 1)[1].split(":", 1)[0]] = parts[1]
    if set(tags) != set(CONTEXTS):
        raise BenchError(f"`drill images` named {tags}, not one image per context {sorted(CONTEXTS)}")
    return tags


def remove(client: docker.DockerClient, tags: dict[str, str]) -> None:
    """Remove each tag (and the layers only it holds); refuse when a container uses one."""
    for tag in tags.values():
        try:
            image_id = client.images.get(tag).id
        except ImageNotFound:
            continue
        users = [c.name for c in client.containers.list(all=True) if c.attrs.get("Image") == image_id]
        if users:
            raise BenchError(f"{tag} is used by {', '.join(users)}: not removing it")
        try:
            client.images.remove(tag)
        except ImageNotFound:
            pass
        except APIError as e:
            raise BenchError(f"removing {tag}: {e.explanation or e}") from e


def build_cold(client: docker.DockerClient, context: Path, tag: str) -> float:
    """Seconds of a build with no layer cache, as `drill images` would build it otherwise."""
    started = time.monotonic()
    for chunk in client.api.build(path=str(context), dockerfile="Dockerfile", tag=tag,
                                  buildargs={"BASE_IMAGE": BASE_TAG}, rm=True, forcerm=True,
                                  nocache=True, decode=True, labels={"chaos-harness.image": context.name}):
        if "error" in chunk:
            raise BenchError(f"building {tag}: {chunk['error'].strip()}")
    return time.monotonic() - started


def image_size(client: docker.DockerClient, tag: str) -> float:
    return float(client.images.get(tag).attrs["Size"]) / 1e6


def one_round(client: docker.DockerClient, drill: Drill) -> dict[str, Any]:
    around = surroundings()
    check = drill.run("images").check()
    tags = current_tags(drill)
    remove(client, tags)
    cold = {name: build_cold(client, CONTEXTS[name], tag) for name, tag in tags.items()}
    if current_tags(drill) != tags:
        raise BenchError("the cold builds' tags are not the ones `drill images` expects")
    sizes = {name: image_size(client, tag) for name, tag in tags.items()}
    remove(client, tags)
    rebuilt = drill.run("images").check()
    return {"cold_server": cold["server"], "cold_edge": cold["edge"], "drill_images": rebuilt.seconds,
            "check": check.seconds, "size_server_mb": sizes["server"], "size_edge_mb": sizes["edge"],
            "tags": tags, **around}


def table(rounds: list[dict[str, Any]]) -> None:
    rows = [
        ["server, no layer cache", render(Spread.of(r["cold_server"] for r in rounds))],
        ["edge, no layer cache", render(Spread.of(r["cold_edge"] for r in rounds))],
        ["`drill images` after removing both", render(Spread.of(r["drill_images"] for r in rounds))],
        ["`drill images`, nothing to build", render(Spread.of(r["check"] for r in rounds), digits=2)],
        ["size server / edge",
         f"{rounds[-1]['size_server_mb']:.0f} MB / {rounds[-1]['size_edge_mb']:.0f} MB" if rounds else "-"],
    ]
    print_table(f"image builds ({machine()}; base image kept)", ["what", "median (min-max, n)"], rows)
    print_disturbed(rounds)


def main() -> None:
    args = arguments(__doc__.splitlines()[0], "images", rounds=2).parse_args()
    rounds = Rounds(args.results)
    if not args.report:
        client = docker.from_env(timeout=600)
        with private_drill("images") as drill:
            try:
                for i in range(args.rounds):
                    record = rounds.add(one_round(client, drill))
                    print(f"round {i + 1}: server {record['cold_server']:.1f} s, edge "
                          f"{record['cold_edge']:.1f} s cold; drill images {record['drill_images']:.1f} s",
                          flush=True)
            finally:
                with sigint_deferred():
                    # The images again, whatever happened (a Ctrl-C mid-build included).
                    done = drill.run("images")
                    print("images rebuilt" if done.code == 0 else f"REBUILDING FAILED: {done.stderr}",
                          flush=True)
    table(rounds.all() if args.report else rounds.new)


if __name__ == "__main__":
    main_guard(main)
