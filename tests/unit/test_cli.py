"""`drill` as a user meets it without Docker: bad input is a clear error, exit 2, nothing made."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def drill(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DRILL_STATE_DIR": str(tmp_path / "state"), "DOCKER_HOST": "unix:///nonexistent"}
    return subprocess.run([sys.executable, "-m", "chaos", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=60)


def test_bad_compose_file_is_exit_2_with_location_and_nothing_created(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yml"
    bad.write_text("services:\n  web:\n    image: x\n    networks: [front]\n    portz: []\n"
                   "networks: {front: {}}\n")
    result = drill(tmp_path, "up", "--compose", str(bad))
    assert result.returncode == 2
    assert f"{bad}:5:5: services.web.portz: unknown key 'portz'; did you mean 'ports'?" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "state" / "runs").exists()


def test_bad_setting_is_exit_2(tmp_path: Path) -> None:
    result = drill(tmp_path, "up", "--set", "no-equals-sign")
    assert result.returncode == 2 and "write KEY=VALUE" in result.stderr


def test_out_of_range_option_is_exit_2(tmp_path: Path) -> None:
    result = drill(tmp_path, "up", "--drives", "1")
    assert result.returncode == 2 and "--drives" in result.stderr


def test_unknown_verb_is_exit_2(tmp_path: Path) -> None:
    result = drill(tmp_path, "upp")
    assert result.returncode == 2 and "No such command 'upp'" in result.stderr


def test_down_with_nothing_up_is_a_no_op(tmp_path: Path) -> None:
    result = drill(tmp_path, "down")
    assert result.returncode == 0 and "nothing to take down" in result.stdout


def test_status_with_nothing_up_says_how_to_start(tmp_path: Path) -> None:
    result = drill(tmp_path, "status")
    assert result.returncode == 3
    assert "no stack is up" in result.stderr and "drill up" in result.stderr
    assert "Traceback" not in result.stderr


def test_help_lists_the_verbs(tmp_path: Path) -> None:
    result = drill(tmp_path, "--help")
    assert result.returncode == 0
    for verb in ("images", "up", "status", "down", "clean", "smoke"):
        assert verb in result.stdout


def test_run_f_puts_every_scenario_on_that_compose_project(tmp_path: Path) -> None:
    shop = ROOT / "tests" / "compose" / "shop" / "compose.yaml"
    result = drill(tmp_path, "run", "tests/scenarios/minimal-power-off.yaml", "-f", str(shop),
                   "--dry-run")
    assert result.returncode == 0, result.stderr
    assert f"  stack: {shop}\n" in result.stdout
    wrong = drill(tmp_path, "run", "tests/scenarios/shop-power-off.yaml", "-f",
                  "tests/compose/minimal.yml", "--dry-run")
    assert wrong.returncode == 2
    assert "steps[0].target: unknown site or service 'api'" in wrong.stderr


def test_config_prints_what_the_harness_creates(tmp_path: Path) -> None:
    import yaml

    result = drill(tmp_path, "config", "-f", "tests/compose/shop/compose.yaml")
    assert result.returncode == 0, result.stderr
    notes = [line for line in result.stdout.splitlines() if line.startswith("# note: ")]
    assert any("services.web.container_name: container_name 'shop-web' becomes a network "
               "alias" in n for n in notes)
    assert any("services.web.ports: published on 127.0.0.1 only" in n for n in notes)
    resolved = yaml.safe_load(result.stdout)
    web, api = resolved["services"]["web"], resolved["services"]["api"]
    assert web["networks"] == {"default": {"aliases": ["shop-web"]}}
    assert web["ports"] == [{"target": 80, "host_ip": "127.0.0.1", "protocol": "tcp",
                             "mode": "host"}]
    assert api["environment"]["SHOP_NAME"] == "Corner Shop"  # from its env_file
    assert api["environment"]["SHOP_GREETING"] == "Welcome to the shop"  # from .env
    assert api["build"]["context"] == str(ROOT / "tests" / "compose" / "shop" / "api")
