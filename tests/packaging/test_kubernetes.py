"""The Kubernetes examples: valid against the API schemas, secret-free, locked down.

Each manifest is checked against the published Kubernetes JSON schemas in strict mode
(unknown fields are errors, as `kubectl apply --validate=strict` makes them), for the
oldest supported and the newest known Kubernetes version.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from batchmon.cli import build_parser
from batchmon.config import ENV_VARS, SECRET_FIELDS

from .tools import PACKAGING

MANIFESTS = sorted((PACKAGING / "kubernetes").glob("*.yaml"))
SECRET_ENV = {var for name in SECRET_FIELDS for var in ENV_VARS[name]}
KUBERNETES_VERSIONS = ("1.30.0", kubernetes_validate.utils.latest_version())
SECRET_NAME = "batchmon-worker"
LITERAL_SECRET = re.compile(r"sk-[A-Za-z0-9_-]{8,}|://[^/\s]*:[^@/\s]+@")


def _documents(path: Path) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")) if doc]


def _by_kind(kind: str) -> dict[str, Any]:
    found = [doc for path in MANIFESTS for doc in _documents(path) if doc["kind"] == kind]
    assert len(found) == 1, f"expected one {kind}, found {len(found)}"
    return found[0]


def _pod_specs(node: Any) -> Iterator[dict[str, Any]]:
    if isinstance(node, dict):
        if "containers" in node:
            yield node
        for value in node.values():
            yield from _pod_specs(value)
    elif isinstance(node, list):
        for value in node:
            yield from _pod_specs(value)


def _containers() -> Iterator[tuple[str, dict[str, Any], dict[str, Any]]]:
    for path in MANIFESTS:
        for doc in _documents(path):
            for pod in _pod_specs(doc):
                for container in pod["containers"]:
                    yield f"{path.name}:{container['name']}", pod, container


def test_there_is_a_deployment_a_cronjob_and_a_migration_job() -> None:
    kinds = sorted(doc["kind"] for path in MANIFESTS for doc in _documents(path))
    assert kinds == ["CronJob", "Deployment", "Job"]


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
@pytest.mark.parametrize("path", MANIFESTS, ids=lambda p: p.name)
def test_manifest_validates_strictly(path: Path, version: str) -> None:
    for doc in _documents(path):
        kubernetes_validate.validate(doc, version, strict=True)


def test_strict_validation_rejects_an_unknown_field() -> None:
    doc = _by_kind("Deployment")
    doc["spec"]["template"]["spec"]["containers"][0]["securityContext"]["readOnlyRootFs"] = True
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(doc, KUBERNETES_VERSIONS[0], strict=True)


def test_secrets_come_only_from_secret_key_refs() -> None:
    seen = set()
    for where, _, container in _containers():
        for env in container.get("env", []):
            name = env["name"]
            if name in SECRET_ENV:
                assert "value" not in env, f"{where}: {name} has a literal value"
                ref = env["valueFrom"]["secretKeyRef"]
                assert ref["name"] == SECRET_NAME, where
                seen.add(name)
            value = str(env.get("value", ""))
            assert not LITERAL_SECRET.search(value), f"{where}: {name} looks like a secret"
        assert "envFrom" not in container, f"{where}: list each variable explicitly"
    assert {"OPENAI_API_KEY", "DATABASE_URL"} <= seen


def test_workers_run_unprivileged_on_a_read_only_root() -> None:
    for where, pod, container in _containers():
        assert pod["securityContext"]["runAsNonRoot"] is True, where
        assert pod["securityContext"]["runAsUser"] > 0, where
        assert pod["automountServiceAccountToken"] is False, where
        context = container["securityContext"]
        assert context["readOnlyRootFilesystem"] is True, where
        assert context["allowPrivilegeEscalation"] is False, where
        assert context["capabilities"]["drop"] == ["ALL"], where
        assert container["resources"]["limits"]["memory"], where
        assert not container["image"].endswith(":latest"), where


def test_every_container_runs_a_valid_batchmon_command() -> None:
    commands = {}
    for where, _, container in _containers():
        assert container["command"] == ["batchmon"], where
        args = build_parser().parse_args(container["args"])
        commands[where.split(":")[0]] = args
    assert commands["worker-deployment.yaml"].command == "worker"
    assert commands["worker-deployment.yaml"].once is False
    assert commands["worker-cronjob.yaml"].once is True
    assert commands["migrate-job.yaml"].db_command == "migrate"


def test_deployment_runs_two_replicas_with_time_to_finish_on_sigterm() -> None:
    deployment = _by_kind("Deployment")
    assert deployment["spec"]["replicas"] == 2
    pod = deployment["spec"]["template"]["spec"]
    lease = build_parser().parse_args(pod["containers"][0]["args"]).lease
    # In-flight applies get as long to finish as a claim's lease lasts.
    assert pod["terminationGracePeriodSeconds"] >= lease.total_seconds()


def test_cronjob_never_overlaps_passes() -> None:
    cron = _by_kind("CronJob")["spec"]
    assert cron["schedule"] == "* * * * *"
    assert cron["concurrencyPolicy"] == "Forbid"
    assert cron["jobTemplate"]["spec"]["template"]["spec"]["restartPolicy"] == "Never"
