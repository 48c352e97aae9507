"""Where the endpoint's secrets come from, including two at once during a rotation."""

from __future__ import annotations

import pytest

from batchmon.config import ConfigError
from batchmon.sim.webhooks import new_secret
from batchmon.webhooks import load_webhook_secrets
from batchmon.webhooks.secret_source import KEYRING_NAME
from tests.fixtures.keyring import MemoryKeyring


def test_the_environment_may_hold_several_secrets_newest_first() -> None:
    a, b, c = new_secret(), new_secret(), new_secret()
    env = {"OPENAI_WEBHOOK_SECRET": f"{a}, {b}", "OPENAI_WEBHOOK_SECRET_PREVIOUS": c}
    assert load_webhook_secrets(env, use_keyring=False) == [a, b, c]


def test_the_keyring_is_used_when_the_environment_has_none(
    memory_keyring: MemoryKeyring,
) -> None:
    stored, previous = new_secret(), new_secret()
    memory_keyring.set_password("batchmon", KEYRING_NAME, stored)
    env = {"OPENAI_WEBHOOK_SECRET_PREVIOUS": previous}
    assert load_webhook_secrets(env) == [stored, previous]
    override = new_secret()
    assert load_webhook_secrets({"OPENAI_WEBHOOK_SECRET": override}) == [override]


def test_no_secret_is_a_configuration_error_that_says_what_to_set(
    memory_keyring: MemoryKeyring,
) -> None:
    with pytest.raises(ConfigError, match="OPENAI_WEBHOOK_SECRET"):
        load_webhook_secrets({})


def test_a_mangled_secret_is_named_but_never_echoed() -> None:
    mangled = "whsec_this is not base64"
    with pytest.raises(ConfigError, match="OPENAI_WEBHOOK_SECRET") as info:
        load_webhook_secrets({"OPENAI_WEBHOOK_SECRET": mangled}, use_keyring=False)
    assert mangled not in str(info.value)
