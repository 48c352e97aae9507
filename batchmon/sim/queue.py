"""Failures OpenAI decides when a batch's validation ends, not from its lines.

The most common real failure of the Batch API is the organisation's per-model queue being
full: the batch goes `failed` with one error, `token_limit_exceeded`, whose message names
the model, the organisation and the limit, e.g. "Enqueued token limit reached for gpt-4o
in organization XYZ. Limit: 90,000 enqueued tokens. Please try again once some
in_progress batches have been completed." (a user's report quoted in the OpenAI
community thread "GPT-4o reached enqueued token limit with a small batch job"). Azure's
OpenAI Batch API shows the same error's shape: `{"code": "token_limit_exceeded",
"message": ..., "line": null, "param": null}`.

A create naming an input file that does not exist is accepted; the batch fails later with
`invalid_request`, param `file_id`, as recorded against OpenAI in llama-stack's batch
integration tests (test_batch_nonexistent_file_id): `BatchError(code='invalid_request',
line=None, message='Cannot find file ..., or organization ... does not have access to
it.', param='file_id')`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .models import base_model

DEFAULT_ORGANIZATION = "org-simulated"


class QueueConfigError(ValueError):
    """A queue setting the simulator cannot use."""


@dataclass(frozen=True)
class QueueLimits:
    """Enqueued prompt-token limits per model (undated names) for one organisation.

    A model without a limit never fills: the default, so existing clients and the demo
    never see token_limit_exceeded unless a test asks for it.
    """

    enqueued_tokens: dict[str, int] = field(default_factory=dict)
    organization: str = DEFAULT_ORGANIZATION
    image_size: tuple[int, int] | None = None
    """(width, height) of every image this organisation sends, when known: the simulator
    never opens an image. None counts each as the costliest image, as the planner does."""

    def limit_for(self, model: str | None) -> int | None:
        if model is None or not self.enqueued_tokens:
            return None
        return self.enqueued_tokens.get(base_model(model) or model)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> QueueLimits:
        """Build from JSON: {"enqueued_token_limits": {"gpt-4o-mini": 2000000},
        "organization": "org-x", "image_size": [512, 512]}."""
        unknown = sorted(set(data) - {"enqueued_token_limits", "organization", "image_size"})
        if unknown:
            raise QueueConfigError(f"unknown queue settings: {', '.join(unknown)}")
        limits = data.get("enqueued_token_limits") or {}
        if not isinstance(limits, dict):
            raise QueueConfigError("enqueued_token_limits must be an object of model: tokens")
        parsed: dict[str, int] = {}
        for model, limit in limits.items():
            key = base_model(str(model))
            if key is None:
                raise QueueConfigError(f"enqueued_token_limits: unknown model '{model}'")
            if not isinstance(limit, int) or isinstance(limit, bool) or limit < 0:
                raise QueueConfigError(f"enqueued_token_limits.{model} must be an integer >= 0")
            parsed[key] = limit
        organization = data.get("organization", DEFAULT_ORGANIZATION)
        if not isinstance(organization, str) or not organization:
            raise QueueConfigError("organization must be a non-empty string")
        return cls(parsed, organization, _image_size(data.get("image_size")))

    def to_dict(self) -> dict[str, Any]:
        return {
            "enqueued_token_limits": dict(self.enqueued_tokens),
            "organization": self.organization,
            "image_size": list(self.image_size) if self.image_size else None,
        }


def _image_size(value: Any) -> tuple[int, int] | None:
    """``[width, height]`` in pixels, both positive integers, or None (unknown)."""
    if value is None:
        return None
    if (
        isinstance(value, list | tuple)
        and len(value) == 2
        and all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in value)
    ):
        return int(value[0]), int(value[1])
    raise QueueConfigError("image_size must be [width, height] in pixels, or null")


def token_limit_reached(model: str, organization: str, limit: int) -> dict[str, Any]:
    """The batch error OpenAI reports when the model's queue has no room for the batch."""
    return {
        "code": "token_limit_exceeded",
        "line": None,
        "message": (
            f"Enqueued token limit reached for {model} in organization {organization}. "
            f"Limit: {limit:,} enqueued tokens. Please try again once some in_progress "
            "batches have been completed."
        ),
        "param": None,
    }


def input_file_missing(file_id: str, organization: str) -> dict[str, Any]:
    """The batch error for an input file that is gone (never uploaded, deleted, expired)."""
    return {
        "code": "invalid_request",
        "line": None,
        "message": (
            f"Cannot find file {file_id}, or organization {organization} does not have "
            "access to it."
        ),
        "param": "file_id",
    }
