"""Per-batch scripting: how one simulated batch behaves.

Set through batch metadata when the batch is created (keys `sim_*`, string values as
metadata requires) or changed later through `POST /_sim/batches/{id}/script` (JSON
values, key names without the `sim_` prefix). Changes apply from the moment they are
made; what already happened stays as it was.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Any

DEFAULT_DURATION = 60.0
DEFAULT_EXPIRE_FRACTION = 0.5
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


class ScriptError(ValueError):
    """A sim_* setting with a value the simulator cannot use; .param names it."""

    def __init__(self, param: str, message: str) -> None:
        super().__init__(message)
        self.param = param


FAIL_CODES = ("invalid_image_url", "rate_limit_exceeded", "server_error")
"""The per-request failures a script can ask for (see ``sim.outputs.REQUEST_FAILURES``)."""


@dataclass(frozen=True)
class BatchScript:
    """The behaviour of one batch.

    fail_validation: the batch fails validation whatever its input.
    fail_fraction: this share of requests (chosen by a hash of custom_id) gets an error line.
    fail_code: what those lines say: invalid_image_url (400, permanent), rate_limit_exceeded
        (429) or server_error (500), the last two worth a retry.
    expire_fraction: None, or the share of requests processed before the batch stalls and
        then expires when its completion window passes (sim_expire "1" means 0.5).
    stall_finalizing: the batch stays in `finalizing` until released or expired.
    duration: simulated seconds the batch spends `in_progress`.
    empty_error_file_id: report `error_file_id` as "" instead of null when there are no errors.
    """

    fail_validation: bool = False
    fail_fraction: float = 0.0
    fail_code: str = "invalid_image_url"
    expire_fraction: float | None = None
    stall_finalizing: bool = False
    duration: float = DEFAULT_DURATION
    empty_error_file_id: bool = False

    @classmethod
    def from_metadata(
        cls, metadata: dict[str, str] | None, default_duration: float = DEFAULT_DURATION
    ) -> BatchScript:
        script = cls(duration=default_duration)
        changes = {
            key.removeprefix("sim_"): value
            for key, value in (metadata or {}).items()
            if key.startswith("sim_")
        }
        return script.updated(changes, prefix="metadata.sim_")

    def updated(self, changes: dict[str, Any], prefix: str = "") -> BatchScript:
        """A copy with `changes` (JSON or metadata-string values) applied."""
        values: dict[str, Any] = {}
        for key, value in changes.items():
            param = prefix + key
            if key in ("fail_validation", "stall_finalizing", "empty_error_file_id"):
                values[key] = _flag(param, value)
            elif key == "fail_fraction":
                values[key] = _fraction(param, value)
            elif key == "fail_code":
                if value not in FAIL_CODES:
                    raise ScriptError(param, f"{param} must be one of {', '.join(FAIL_CODES)}")
                values[key] = value
            elif key == "expire":
                if isinstance(value, str) and value.strip().lower() in _TRUE:
                    values["expire_fraction"] = DEFAULT_EXPIRE_FRACTION
                elif value is None or _is_false(value):
                    values["expire_fraction"] = None
                elif value is True:
                    values["expire_fraction"] = DEFAULT_EXPIRE_FRACTION
                else:
                    fraction = _fraction(param, value)
                    if fraction >= 1.0:
                        raise ScriptError(param, f"{param} must be below 1 (the share processed)")
                    values["expire_fraction"] = fraction
            elif key == "duration":
                seconds = _number(param, value)
                if seconds < 0:
                    raise ScriptError(param, f"{param} must not be negative")
                values[key] = seconds
            else:
                raise ScriptError(
                    param,
                    f"unknown simulator setting '{param}'; known: sim_fail_validation, "
                    "sim_fail_fraction, sim_fail_code, sim_expire, sim_stall_finalizing, "
                    "sim_duration, sim_empty_error_file_id",
                )
        return replace(self, **values)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _is_false(value: Any) -> bool:
    return value is False or (isinstance(value, str) and value.strip().lower() in _FALSE)


def _flag(param: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
        return value.strip().lower() in _TRUE
    raise ScriptError(param, f"{param} must be '1' or '0' (or true/false); got {value!r}")


def _number(param: str, value: Any) -> float:
    if isinstance(value, bool):
        raise ScriptError(param, f"{param} must be a number; got {value!r}")
    try:
        return float(value)
    except (TypeError, ValueError):
        raise ScriptError(param, f"{param} must be a number; got {value!r}") from None


def _fraction(param: str, value: Any) -> float:
    number = _number(param, value)
    if not 0.0 <= number <= 1.0:
        raise ScriptError(param, f"{param} must be between 0 and 1; got {value!r}")
    return number
