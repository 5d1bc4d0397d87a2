"""compose.yaml is accepted by docker-compose, sets only real settings, and runs only real commands."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer._click.exceptions import UsageError  # typer's own click, which parses controlplane's options
from typer.main import get_command

from controlplane.cli import app
from controlplane.config import Settings, env_name

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "compose.yaml"
REQUIRED = ("POSTGRES_PASSWORD", "DB_OWNER_PASSWORD", "DB_APP_PASSWORD", "DB_TFSTATE_PASSWORD")
IMAGE_PATH = Path("/opt/controlplane")  # where the Dockerfile puts the repository's files
# Variables the compose file gives the control plane's services that are not settings of their own.
NOT_SETTINGS = {"openbao-init": {"VAULT_ADDR"}}


def compose_config(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """``docker-compose config`` of compose.yaml with every profile, in ``env`` only."""
    binary = shutil.which("docker-compose")
    assert binary, "docker-compose is missing: make system-deps installs it (apt-get install docker-compose)"
    return subprocess.run(
        [binary, "-f", str(COMPOSE_FILE), "--project-directory", str(ROOT), "--profile", "redis", "--profile", "demo",
         "config"], env=env, capture_output=True, text=True, timeout=120,
    )


@pytest.fixture(scope="module")
def config() -> dict[str, Any]:
    env = {"PATH": os.environ["PATH"], **{name: f"pw-{name.lower()}" for name in REQUIRED}}
    result = compose_config(env)
    assert result.returncode == 0, result.stdout + result.stderr
    return yaml.safe_load(result.stdout)


def ours(config: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The services that run the control plane's image."""
    return {name: svc for name, svc in config["services"].items() if "CONTROLPLANE_IMAGE" in str(
        yaml.safe_load(COMPOSE_FILE.read_text())["services"][name].get("image", "")) or svc.get("build")}


def test_compose_accepts_the_file_and_every_service_is_there(config: dict[str, Any]) -> None:
    assert set(config["services"]) == {"postgres", "openbao", "openbao-init", "redis", "migrate", "api", "worker",
                                       "demo"}
    services = config["services"]
    assert services["migrate"]["restart"] == "no" and services["openbao-init"]["restart"] == "no"
    assert services["api"]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    assert services["api"]["depends_on"]["openbao-init"]["condition"] == "service_completed_successfully"
    assert services["migrate"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert "pg_isready" in " ".join(services["postgres"]["healthcheck"]["test"])
    assert "/readyz" in " ".join(services["api"]["healthcheck"]["test"])
    assert "-dev" not in " ".join(services["openbao"]["entrypoint"])
    assert set(services["redis"]["profiles"]) == {"redis"} and set(services["demo"]["profiles"]) == {"demo"}


@pytest.mark.parametrize("missing", REQUIRED)
def test_a_missing_password_stops_compose_naming_it(missing: str) -> None:
    env = {"PATH": os.environ["PATH"], **{name: "x" for name in REQUIRED if name != missing}}
    result = compose_config(env)
    assert result.returncode != 0
    assert f"set {missing} in .env" in result.stdout + result.stderr


def test_the_images_of_the_other_services_can_be_replaced() -> None:
    env = {"PATH": os.environ["PATH"], **{name: "x" for name in REQUIRED}, "POSTGRES_IMAGE": "local/pg:1",
           "OPENBAO_IMAGE": "local/bao:1", "REDIS_IMAGE": "local/redis:1", "CONTROLPLANE_IMAGE": "local/cp:1"}
    result = compose_config(env)
    assert result.returncode == 0, result.stderr
    services = yaml.safe_load(result.stdout)["services"]
    assert {services[s]["image"] for s in ("postgres", "openbao", "redis")} == {"local/pg:1", "local/bao:1",
                                                                               "local/redis:1"}
    assert {services[s]["image"] for s in ("migrate", "api", "worker", "demo", "openbao-init")} == {"local/cp:1"}


def test_every_variable_given_to_the_control_plane_is_a_setting(config: dict[str, Any]) -> None:
    settings = {env_name(name) for name in Settings.model_fields}
    for name, service in ours(config).items():
        unknown = set(service.get("environment", {})) - settings - NOT_SETTINGS.get(name, set())
        assert unknown == set(), (name, unknown)


def test_every_setting_can_be_set_on_the_api_and_the_workers(config: dict[str, Any]) -> None:
    for name in ("api", "worker", "migrate", "demo"):
        missing = {env_name(f) for f in Settings.model_fields} - set(config["services"][name]["environment"])
        assert missing == set(), (name, missing)


def parse(args: list[str]) -> Any:
    """The ``controlplane`` command ``args`` names, after its options are parsed (UsageError if they are not)."""
    command: Any = get_command(app)
    ctx = command.make_context("controlplane", list(args))
    while hasattr(command, "resolve_command"):  # a group: descend into the sub-command
        rest = [*getattr(ctx, "_protected_args", []), *ctx.args]
        _, sub, rest = command.resolve_command(ctx, rest)
        assert sub is not None
        command, ctx = sub, sub.make_context(sub.name or "", rest, parent=ctx)
    return command


def test_every_command_is_one_controlplane_accepts(config: dict[str, Any]) -> None:
    commands = {}
    for name, service in ours(config).items():
        if "entrypoint" in service:  # a script of the repository, run by the image's Python
            script = Path(service["entrypoint"][-1])
            assert (ROOT / script.relative_to(IMAGE_PATH)).is_file(), (name, script)
            continue
        commands[name] = parse(service["command"]).name
    assert commands == {"migrate": "upgrade", "api": "api", "worker": "worker", "demo": "demo"}


def test_the_command_check_can_fail() -> None:
    with pytest.raises(UsageError):
        parse(["wrker"])
    with pytest.raises(UsageError):
        parse(["worker", "--concurency", "3"])


def test_the_dockerfile_entrypoint_is_controlplane() -> None:
    text = (ROOT / "Dockerfile").read_text()
    assert 'ENTRYPOINT ["tini", "--", "controlplane"]' in text
    assert "USER 10001" in text


def _image_environment() -> set[str]:
    """The variables the final stage of the Dockerfile sets (``ENV`` lines and their continuations)."""
    final = (ROOT / "Dockerfile").read_text().split("\nFROM ")[-1]
    names: set[str] = set()
    for block in final.replace("\\\n", " ").splitlines():
        if block.startswith("ENV "):
            names |= {part.split("=", 1)[0] for part in block[4:].split() if "=" in part}
    return names


def test_no_variable_of_the_image_is_unset_by_compose(config: dict[str, Any]) -> None:
    """A variable listed with no value is passed to Docker as a bare name, which removes the image's own
    value from the container (the data directory would fall back to ``./.data``)."""
    image = _image_environment()
    assert {"CONTROLPLANE_DATA_DIR", "PATH"} <= image, image
    for name, service in ours(config).items():
        unset = {k for k, v in service.get("environment", {}).items() if v is None and k in image}
        assert unset == set(), (name, unset)
