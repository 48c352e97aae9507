"""Where the webhook signing secrets come from: the environment, else the OS keyring.

More than one secret may be active: during a rotation OpenAI signs with the new secret
while deliveries signed with the old one may still be in flight or being retried, so
both are accepted until the old one is dropped. Secret values are never printed.
"""

from __future__ import annotations

import base64
import binascii
import logging
import os
from collections.abc import Mapping

from batchmon.config import KEYRING_SERVICE, ConfigError

log = logging.getLogger(__name__)

SECRET_ENV = "OPENAI_WEBHOOK_SECRET"
"""The secret, or several separated by commas (newest first)."""

PREVIOUS_SECRET_ENV = "OPENAI_WEBHOOK_SECRET_PREVIOUS"
"""The secret being rotated out, still accepted until it is removed."""

KEYRING_NAME = "openai_webhook_secret"
"""Keyring entry (service "batchmon") used when OPENAI_WEBHOOK_SECRET is not set."""


def _split(raw: str | None) -> list[str]:
    return [part.strip() for part in (raw or "").split(",") if part.strip()]


def _check(secret: str, where: str) -> None:
    """A whsec_ secret must be base64 after the prefix (as OpenAI issues them)."""
    if secret.startswith("whsec_"):
        try:
            base64.b64decode(secret[6:], validate=True)
        except (binascii.Error, ValueError):
            raise ConfigError(
                f"a webhook secret in {where} starts with 'whsec_' but the rest is not "
                "base64: copy the whole secret from the OpenAI dashboard"
            ) from None


def _from_keyring() -> str | None:
    try:
        import keyring
        from keyring.errors import KeyringError
    except ImportError:  # pragma: no cover - keyring is a dependency
        return None
    try:
        value = keyring.get_password(KEYRING_SERVICE, KEYRING_NAME)
    except (KeyringError, RuntimeError) as exc:
        log.debug("keyring unavailable for %s: %s", KEYRING_NAME, type(exc).__name__)
        return None
    return value or None


def load_webhook_secrets(
    env: Mapping[str, str] | None = None, *, use_keyring: bool = True
) -> list[str]:
    """Every accepted secret, newest first; ConfigError says how to set one if none is."""
    env = os.environ if env is None else env
    found: list[tuple[str, str]] = [(s, SECRET_ENV) for s in _split(env.get(SECRET_ENV))]
    if not found and use_keyring:
        keyring_value = _from_keyring()
        found = [(s, f"the keyring ({KEYRING_NAME})") for s in _split(keyring_value)]
    found += [(s, PREVIOUS_SECRET_ENV) for s in _split(env.get(PREVIOUS_SECRET_ENV))]
    if not found:
        raise ConfigError(
            f"no webhook secret: set {SECRET_ENV} to the endpoint's signing secret from the "
            f"OpenAI dashboard (whsec_...), or store it with "
            f"`keyring set {KEYRING_SERVICE} {KEYRING_NAME}`"
        )
    secrets: list[str] = []
    for secret, where in found:
        _check(secret, where)
        if secret not in secrets:
            secrets.append(secret)
    return secrets
