"""The Helm chart (deploy/helm/controlplane) with the pinned helm from ``make tools``: ``helm lint`` and
``helm template`` pass with the default and the production values, every rendered manifest is valid against
the Kubernetes schemas (kubernetes-validate, offline), the commands the pods run parse against the real
``controlplane`` command tree, every variable they set is a real setting with a valid value, and the
worker's stop bound, the hooks, probes and security settings are what the docs promise."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import typer.main
import yaml

from controlplane.cli import app
from controlplane.config import ENV_PREFIX, Settings
from tests.fixtures.binaries import require_binary
from tests.fixtures.toolchain import pinned_versions

CHART = Path(__file__).resolve().parents[3] / "deploy" / "helm" / "controlplane"
VALUES = {"default": None, "production": CHART / "values-production.yaml"}
KUBE_VERSION = "1.30.0"
CUSTOM_KINDS = {("monitoring.coreos.com/v1", "ServiceMonitor"), ("external-secrets.io/v1beta1", "ExternalSecret")}
"""Kinds of operators' CRDs, whose schemas kubernetes-validate does not ship (checked by hand below)."""
OTHER_ENV = {"HOME", "SSL_CERT_FILE", "REQUESTS_CA_BUNDLE"}


@pytest.fixture(scope="module")
def helm() -> str:
    path = require_binary("helm")
    shown = subprocess.run([path, "version", "--short"], capture_output=True, text=True, timeout=60, check=True)
    assert shown.stdout.startswith(f"v{pinned_versions()['HELM_VERSION']}"), shown.stdout
    return path


def _helm(helm: str, *args: str, values: Path | None = None) -> subprocess.CompletedProcess[str]:
    """Run ``helm ARGS`` for the Kubernetes version the manifests are validated against."""
    extra = ["-f", str(values)] if values else []
    return subprocess.run([helm, *args, "--kube-version", KUBE_VERSION, *extra], capture_output=True, text=True,
                          timeout=120)


def _render(helm: str, values: Path | None, *sets: str) -> list[dict[str, Any]]:
    result = _helm(helm, "template", "cp", str(CHART), "--namespace", "controlplane", *sets, values=values)
    assert result.returncode == 0, result.stderr
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


@pytest.fixture(scope="module", params=sorted(VALUES))
def rendered(request: pytest.FixtureRequest, helm: str) -> list[dict[str, Any]]:
    return _render(helm, VALUES[request.param])


def _pods(docs: list[dict[str, Any]]) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    return [(doc, doc["spec"]["template"]["spec"]) for doc in docs if doc["kind"] in ("Deployment", "Job")]


def _containers(docs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [c for _, pod in _pods(docs) for c in [*pod.get("initContainers", []), *pod["containers"]]]


class Refused(Exception):
    """``controlplane`` would refuse these arguments (a usage error: status 2)."""


def _parse(argv: list[str]) -> Any:
    """Parse ``controlplane ARGV`` against the real command tree (types, ranges, unknown options) without
    running it; returns the click context; raises Refused when ``controlplane`` would refuse it."""
    command = typer.main.get_command(app)
    args = list(argv)
    try:
        while hasattr(command, "list_commands"):  # a group: descend (typer ships its own copy of click)
            name = args.pop(0)
            found = command.get_command(typer.Context(command), name)
            if found is None:
                raise Refused(f"no such command: {name}")
            command = found
        return command.make_context(command.name or "", args)
    except Exception as exc:
        if getattr(exc, "exit_code", None) == 2:  # click's UsageError and BadParameter
            raise Refused(str(exc)) from exc
        raise


@pytest.mark.parametrize("values", sorted(VALUES))
def test_helm_lint_passes(helm: str, values: str) -> None:
    result = _helm(helm, "lint", "--strict", str(CHART), values=VALUES[values])
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_manifest_is_valid_against_the_kubernetes_schemas(rendered: list[dict[str, Any]]) -> None:
    kinds = set()
    for doc in rendered:
        kinds.add(doc["kind"])
        if (doc["apiVersion"], doc["kind"]) in CUSTOM_KINDS:
            assert doc["metadata"]["name"] and doc["spec"], doc
            continue
        kubernetes_validate.validate(doc, KUBE_VERSION, strict=True)
    assert {"Deployment", "Job", "Service", "PodDisruptionBudget", "NetworkPolicy", "ServiceAccount"} <= kinds


def test_the_validator_rejects_a_broken_manifest(rendered: list[dict[str, Any]]) -> None:
    deployment = next(doc for doc in rendered if doc["kind"] == "Deployment")
    broken = {**deployment, "spec": {**deployment["spec"], "replicas": "two"}}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, KUBE_VERSION, strict=True)


def test_pod_commands_are_ones_controlplane_accepts(rendered: list[dict[str, Any]]) -> None:
    commands = [c["command"] for c in _containers(rendered)]
    assert {tuple(c[:2]) for c in commands} == {("controlplane", "api"), ("controlplane", "worker"),
                                                ("controlplane", "db")}
    for command in commands:
        _parse(command[1:])
    with pytest.raises(Refused):
        _parse(["worker", "--concurrency", "many"])
    with pytest.raises(Refused):
        _parse(["db", "current", "--no-such-option"])


def test_every_variable_is_a_setting_with_a_valid_value(rendered: list[dict[str, Any]]) -> None:
    fields = {f"{ENV_PREFIX}{name.upper()}": name for name in Settings.model_fields}
    for container in _containers(rendered):
        literal = {}
        for var in container["env"]:
            name = var["name"]
            assert name in fields or name in OTHER_ENV, f"{container['name']}: {name} is not a setting"
            if name in fields and "value" in var:
                literal[fields[name]] = var["value"]
        Settings(_env_file=None, **literal)  # type: ignore[call-arg]  # raises ValidationError on a bad value


def test_worker_stops_within_its_grace_period(rendered: list[dict[str, Any]], helm: str) -> None:
    (pod,) = [pod for doc, pod in _pods(rendered) if doc["metadata"]["name"].endswith("-worker")]
    command = pod["containers"][0]["command"]
    stop = float(_parse(command[1:]).params["stop_timeout"])
    assert stop + 15 <= pod["terminationGracePeriodSeconds"]
    refused = _helm(helm, "template", "cp", str(CHART), "--set", "worker.stopTimeout=90",
                    "--set", "worker.terminationGracePeriodSeconds=90")
    assert refused.returncode != 0 and "stopTimeout must be below" in refused.stderr


def test_migration_hook_and_wait_for_it(rendered: list[dict[str, Any]]) -> None:
    (job,) = [doc for doc in rendered if doc["kind"] == "Job"]
    assert job["metadata"]["annotations"]["helm.sh/hook"] == "pre-install,pre-upgrade"
    assert job["spec"]["backoffLimit"] == 0
    assert job["spec"]["template"]["spec"]["containers"][0]["command"] == ["controlplane", "db", "upgrade"]
    for doc, pod in _pods(rendered):
        if doc["kind"] == "Deployment":
            (init,) = pod["initContainers"]
            assert init["command"][:4] == ["controlplane", "db", "current", "--wait"], init


def test_probes_security_and_resources(rendered: list[dict[str, Any]]) -> None:
    (api,) = [pod for doc, pod in _pods(rendered) if doc["metadata"]["name"].endswith("-api")]
    assert api["containers"][0]["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert api["containers"][0]["livenessProbe"]["httpGet"]["path"] == "/healthz"
    for _, pod in _pods(rendered):
        assert pod["securityContext"]["runAsNonRoot"] is True
        scratch = {v["name"] for v in pod["volumes"] if "emptyDir" in v}
        for container in [*pod.get("initContainers", []), *pod["containers"]]:
            assert container["securityContext"]["readOnlyRootFilesystem"] is True
            assert container["resources"]["requests"] and container["resources"]["limits"]
            mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
            assert mounts["/tmp"] in scratch and mounts["/var/lib/controlplane"] in scratch
    pdb = [doc for doc in rendered if doc["kind"] == "PodDisruptionBudget"]
    assert pdb and pdb[0]["spec"]["selector"]["matchLabels"]["app.kubernetes.io/component"] == "api"


def test_production_values_add_sse_ingress_service_monitor_and_external_secrets(helm: str) -> None:
    docs = _render(helm, VALUES["production"])
    by_kind: dict[str, list[dict[str, Any]]] = {}
    for doc in docs:
        by_kind.setdefault(doc["kind"], []).append(doc)
    (ingress,) = by_kind["Ingress"]
    assert ingress["metadata"]["annotations"]["nginx.ingress.kubernetes.io/proxy-buffering"] == "off"
    assert int(ingress["metadata"]["annotations"]["nginx.ingress.kubernetes.io/proxy-read-timeout"]) >= 3600
    (monitor,) = by_kind["ServiceMonitor"]
    metrics_services = [s for s in by_kind["Service"]
                        if s["metadata"]["labels"].get("app.kubernetes.io/component") == "metrics"]
    wanted = monitor["spec"]["selector"]["matchLabels"].items()
    assert metrics_services and all(metrics_services[0]["metadata"]["labels"][k] == v for k, v in wanted)
    secrets = {doc["spec"]["target"]["name"] for doc in by_kind["ExternalSecret"]}
    refs = {var["valueFrom"]["secretKeyRef"]["name"] for c in _containers(docs) for var in c["env"]
            if "valueFrom" in var}
    assert refs <= secrets, "a pod refers to a Secret no ExternalSecret makes"
    assert all(int(d["metadata"]["annotations"]["helm.sh/hook-weight"]) < 0 for d in by_kind["ExternalSecret"])


def test_token_kubernetes_and_unknown_auth_methods(helm: str) -> None:
    docs = _render(helm, None, "--set", "vault.auth.method=token")
    names = {var["name"] for c in _containers(docs) for var in c["env"]}
    assert "CONTROLPLANE_VAULT_TOKEN" in names and "CONTROLPLANE_VAULT_ROLE_ID_FILE" not in names
    docs = _render(helm, None, "--set", "vault.auth.method=kubernetes",
                   "--set", "vault.auth.kubernetes.role=controlplane-worker")
    for doc in docs:
        kubernetes_validate.validate(doc, KUBE_VERSION, strict=True)
    for _, pod in _pods(docs):
        (volume,) = [v for v in pod["volumes"] if v["name"] == "vault-token"]
        assert volume["projected"]["sources"][0]["serviceAccountToken"]["audience"] == "vault"
        for container in [*pod.get("initContainers", []), *pod["containers"]]:
            env = {var["name"]: var.get("value") for var in container["env"]}
            assert env["CONTROLPLANE_VAULT_KUBERNETES_ROLE"] == "controlplane-worker"
            mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
            assert env["CONTROLPLANE_VAULT_KUBERNETES_TOKEN_FILE"] == mounts["vault-token"] + "/token"
            assert "CONTROLPLANE_VAULT_ROLE_ID_FILE" not in env
    refused = _helm(helm, "template", "cp", str(CHART), "--set", "vault.auth.method=ldap")
    assert refused.returncode != 0 and "vault.auth.method must be approle, kubernetes or token" in refused.stderr
