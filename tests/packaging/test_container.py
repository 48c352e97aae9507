"""The worker image's Containerfile: unprivileged, secret-free, runs `batchmon`.

No container engine runs here, so the file is read, not built; the checks are the ones
a reviewer would make, plus consistency with the Kubernetes examples that run it.
"""

from __future__ import annotations

import re
import shlex

import yaml

from batchmon.config import ENV_VARS, SECRET_FIELDS

from .tools import PACKAGING, ROOT

CONTAINERFILE = PACKAGING / "container" / "Containerfile"
SECRET_ENV = {var for name in SECRET_FIELDS for var in ENV_VARS[name]}


def _instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, continuation lines joined."""
    text = re.sub(r"\\\n", " ", CONTAINERFILE.read_text(encoding="utf-8"))
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            out.append((word.upper(), rest.strip()))
    return out


def _final_stage() -> list[tuple[str, str]]:
    steps = _instructions()
    last_from = max(i for i, (word, _) in enumerate(steps) if word == "FROM")
    return steps[last_from:]


def test_image_runs_as_the_unprivileged_user_the_manifests_expect() -> None:
    users = [rest for word, rest in _final_stage() if word == "USER"]
    assert users, "no USER in the final stage"
    uid = users[-1].split(":")[0]
    assert uid.isdigit() and int(uid) > 0
    deployment = yaml.safe_load((PACKAGING / "kubernetes/worker-deployment.yaml").read_text())
    assert deployment["spec"]["template"]["spec"]["securityContext"]["runAsUser"] == int(uid)


def test_image_holds_no_secrets() -> None:
    for word, rest in _instructions():
        if word in {"ENV", "ARG"}:
            names = {token.partition("=")[0] for token in shlex.split(rest)}
            assert not names & SECRET_ENV, f"{word} {rest}"
    copied = " ".join(rest for word, rest in _instructions() if word == "COPY")
    assert ".env" not in copied and "config.toml" not in copied


def test_image_entrypoint_is_batchmon_and_sources_exist() -> None:
    final = dict(_final_stage())
    assert final["ENTRYPOINT"] == '["batchmon"]'
    assert final["STOPSIGNAL"] == "SIGTERM"
    for word, rest in _instructions():
        if word == "COPY" and not rest.startswith("--from"):
            for source in shlex.split(rest)[:-1]:
                assert (ROOT / source).exists(), source
