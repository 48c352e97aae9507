"""Checks of the parameters a create sends, with OpenAI's limits and wording.

Metadata: at most 16 keys of up to 64 characters, string values of up to 512. Expiration
policies (`expires_after`, `output_expires_after`): anchor `created_at`, 3600 to 2592000
seconds, as the reference's FileExpirationAfter and BatchFileExpirationAfter say.
"""

from __future__ import annotations

from typing import Any

from .errors import bad_request

BATCH_FILE_TTL = 30 * 24 * 3600
"""Batch input and output files live 30 days unless a policy says otherwise."""
MIN_FILE_TTL = 3600
MAX_METADATA_KEYS = 16


def expiration_seconds(policy: Any, param: str) -> int | None:
    """Seconds from an expiration policy `{"anchor": "created_at", "seconds": N}`.

    OpenAI's reference allows only the `created_at` anchor and 3600..2592000 seconds.
    """
    if policy is None:
        return None
    if not isinstance(policy, dict):
        raise bad_request(f"{param} must be an object with anchor and seconds.", param=param)
    if policy.get("anchor") != "created_at":
        raise bad_request(
            f"Invalid value for '{param}.anchor': only 'created_at' is supported.",
            param=f"{param}.anchor",
        )
    raw = policy.get("seconds")
    try:
        seconds = int(raw) if isinstance(raw, int | str) and not isinstance(raw, bool) else None
    except ValueError:
        seconds = None
    if seconds is None or not MIN_FILE_TTL <= seconds <= BATCH_FILE_TTL:
        raise bad_request(
            f"Invalid value for '{param}.seconds': must be between {MIN_FILE_TTL} and "
            f"{BATCH_FILE_TTL}.",
            param=f"{param}.seconds",
        )
    return seconds


def check_metadata(metadata: dict[str, str] | None) -> None:
    if metadata is None:
        return
    if not isinstance(metadata, dict):
        raise bad_request("metadata must be an object of string values.", param="metadata")
    if len(metadata) > MAX_METADATA_KEYS:
        raise bad_request(f"metadata may have at most {MAX_METADATA_KEYS} keys.", param="metadata")
    for key, value in metadata.items():
        if not isinstance(key, str) or len(key) > 64:
            raise bad_request(
                "metadata keys must be strings of at most 64 characters.", param="metadata"
            )
        if not isinstance(value, str):
            # OpenAI's wording (recorded in llama-stack's test_batch_invalid_metadata_types):
            # "Invalid type for 'metadata.tags': expected a string, but got an array instead."
            raise bad_request(
                f"Invalid type for 'metadata.{key}': expected a string, but got "
                f"{_json_type(value)} instead.",
                param=f"metadata.{key}",
                code="invalid_type",
            )
        if len(value) > 512:
            raise bad_request(
                f"metadata.{key} must be a string of at most 512 characters.",
                param=f"metadata.{key}",
            )


def _json_type(value: Any) -> str:
    """How a JSON value's type is named in OpenAI's messages ("an array", "an integer")."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a decimal"
    if isinstance(value, list):
        return "an array"
    return "an object"
