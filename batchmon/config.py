"""Settings from the environment, a TOML file and the OS keyring.

Secrets (the OpenAI key, a database URL that may hold a password, the Supabase password)
live only in the keyring or the environment; the TOML file in the platformdirs config dir
holds everything else, so it can be shared or committed without leaking anything.
Precedence: environment, then keyring/TOML, then defaults.
"""

from __future__ import annotations

import contextlib
import logging
import os
import tomllib
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import platformdirs

from batchmon.core.tokens import format_image_size, parse_optional_image_size

log = logging.getLogger(__name__)

APP_NAME = "batchmon"
KEYRING_SERVICE = "batchmon"

#: Fields stored in the keyring, never in the TOML file.
SECRET_FIELDS = frozenset({"openai_api_key", "database_url", "supabase_password"})

#: Environment variables that override each field (first one set wins).
ENV_VARS: Mapping[str, tuple[str, ...]] = {
    "openai_api_key": ("OPENAI_API_KEY",),
    "openai_base_url": ("OPENAI_BASE_URL",),
    "openai_organization": ("OPENAI_ORG_ID", "OPENAI_ORGANIZATION"),
    "openai_project": ("OPENAI_PROJECT_ID", "OPENAI_PROJECT"),
    "database_url": ("BATCHMON_DATABASE_URL", "DATABASE_URL"),
    "supabase_url": ("SUPABASE_URL",),
    "supabase_anon_key": ("SUPABASE_ANON_KEY",),
    "supabase_email": ("BATCHMON_SUPABASE_EMAIL",),
    "supabase_password": ("BATCHMON_SUPABASE_PASSWORD",),
    "poll_interval": ("BATCHMON_POLL_INTERVAL",),
    "poll_limit": ("BATCHMON_POLL_LIMIT",),
    "data_dir": ("BATCHMON_DATA_DIR",),
    "token_limits": ("BATCHMON_TOKEN_LIMITS",),
    "image_size": ("BATCHMON_IMAGE_SIZE",),
}


class ConfigError(Exception):
    """A setting is malformed; the message names it and says how to fix it."""


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything batchmon can be told. ``None`` means "not configured"."""

    openai_api_key: str | None = None
    openai_base_url: str | None = None
    openai_organization: str | None = None
    openai_project: str | None = None
    database_url: str | None = None
    supabase_url: str | None = None
    supabase_anon_key: str | None = None
    supabase_email: str | None = None
    supabase_password: str | None = None
    poll_interval: float = 2.0
    poll_limit: float = 3600.0
    notify_completed: bool = True
    notify_failed: bool = True
    notify_expired: bool = True
    notify_cancelled: bool = True
    job_notice_batches: int = 3
    """A job with more batches than this gets one notice when it ends, not one per batch."""
    data_dir: str | None = None
    token_limits: dict[str, int] = field(default_factory=dict)
    """Each model's enqueued-token limit where none is stored, over the tier-1 defaults:
    a ``[token_limits]`` table in the file, or ``model=tokens,...`` in the environment."""
    image_size: tuple[int, int] | None = None
    """The typical (width, height) of the assets' images, ``"1024x1024"`` in the file or
    the environment: jobs are planned at it instead of the costliest image (None: unknown)."""
    demo: bool = False

    @property
    def database_mode(self) -> str:
        """``supabase``, ``postgres`` or ``embedded``: which store the app will open."""
        if self.supabase_url and self.supabase_anon_key:
            return "supabase"
        if self.database_url:
            return "postgres"
        return "embedded"

    @property
    def is_unconfigured(self) -> bool:
        """Nothing points at real services: the app starts the offline demo."""
        return not self.openai_api_key and self.database_mode == "embedded"

    def resolved_data_dir(self) -> Path:
        return Path(self.data_dir) if self.data_dir else default_data_dir()

    def redacted(self) -> dict[str, Any]:
        """A dict safe to log or show: secrets replaced by a marker."""
        out = asdict(self)
        for name in SECRET_FIELDS:
            if out.get(name):
                out[name] = "***"
        return out


def default_config_path() -> Path:
    return Path(platformdirs.user_config_dir(APP_NAME)) / "config.toml"


def default_data_dir() -> Path:
    return Path(platformdirs.user_data_dir(APP_NAME))


def _token_limits(raw: Any) -> dict[str, int]:
    """``{"gpt-4o": 800000}`` from TOML, or ``gpt-4o=800000,gpt-4o-mini=2000000``."""
    if isinstance(raw, str):
        pairs = [item.partition("=")[::2] for item in raw.split(",") if item.strip()]
        raw = {model.strip(): tokens.strip() for model, tokens in pairs}
    if not isinstance(raw, Mapping):
        raise ValueError
    limits = {str(model): int(str(tokens).replace("_", "")) for model, tokens in raw.items()}
    if any(not model or tokens <= 0 for model, tokens in limits.items()):
        raise ValueError
    return limits


def _image_size(raw: Any) -> tuple[int, int] | None:
    """``"1024x768"`` (or ``[1024, 768]`` in the file); empty or ``unknown`` is None."""
    if isinstance(raw, list | tuple) and len(raw) == 2:
        raw = format_image_size((raw[0], raw[1]))
    try:
        return parse_optional_image_size(str(raw))
    except ValueError as exc:
        raise ConfigError(f"setting 'image_size' {exc}") from None


def _coerce(name: str, raw: Any) -> Any:
    """Turn a TOML or environment value into the field's type, or say what is wrong."""
    field_type = {f.name: f.type for f in fields(Settings)}[name]
    if name == "image_size":
        return _image_size(raw)
    try:
        if name == "token_limits":
            return _token_limits(raw)
        if field_type == "float":
            value = float(raw)
            if value <= 0:
                raise ValueError
            return value
        if field_type == "int":
            number = int(str(raw).strip())
            if number < 0:
                raise ValueError
            return number
        if field_type == "bool":
            if isinstance(raw, bool):
                return raw
            text = str(raw).strip().lower()
            if text not in {"1", "0", "true", "false", "yes", "no", "on", "off"}:
                raise ValueError
            return text in {"1", "true", "yes", "on"}
    except (TypeError, ValueError):
        raise ConfigError(
            f"setting {name!r} has the value {raw!r}, which is not a valid {field_type}"
        ) from None
    text = str(raw).strip()
    return text or None


def _read_toml(path: Path) -> dict[str, Any]:
    if not path.exists():
        return {}
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"cannot read the settings file {path}: {exc}") from None
    known = {f.name for f in fields(Settings)} - SECRET_FIELDS
    return {k: v for k, v in data.items() if k in known}


def _read_keyring() -> dict[str, str]:
    """Secrets from the OS keyring; an unavailable keyring simply yields nothing."""
    try:
        import keyring
        from keyring.errors import KeyringError
    except ImportError:  # pragma: no cover - keyring is a dependency
        return {}
    out: dict[str, str] = {}
    for name in sorted(SECRET_FIELDS):
        try:
            value = keyring.get_password(KEYRING_SERVICE, name)
        except (KeyringError, RuntimeError) as exc:
            log.debug("keyring unavailable for %s: %s", name, type(exc).__name__)
            return out
        if value:
            out[name] = value
    return out


def load_settings(
    env: Mapping[str, str] | None = None,
    config_path: Path | None = None,
    *,
    use_keyring: bool = True,
) -> Settings:
    """Merge defaults, the TOML file, the keyring and the environment (in that order)."""
    env = os.environ if env is None else env
    values: dict[str, Any] = {}
    values.update(_read_toml(config_path or default_config_path()))
    if use_keyring:
        values.update(_read_keyring())
    for name, names in ENV_VARS.items():
        for var in names:
            if env.get(var):
                values[name] = env[var]
                break
    coerced = {name: _coerce(name, raw) for name, raw in values.items()}
    return replace(Settings(), **{k: v for k, v in coerced.items() if v is not None})


def _toml_value(value: Any) -> str:
    if isinstance(value, tuple):  # the image size, the only tuple setting
        return _toml_value(format_image_size(value))
    if isinstance(value, Mapping):
        return "{ " + ", ".join(f"{_toml_value(k)} = {v}" for k, v in value.items()) + " }"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    escaped = str(value).replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'


def save_settings(
    settings: Settings, config_path: Path | None = None, *, use_keyring: bool = True
) -> Path:
    """Write non-secrets to TOML and secrets to the keyring; returns the TOML path.

    A secret set to ``None`` is removed from the keyring, so clearing a field in the
    settings dialog really forgets it.
    """
    path = config_path or default_config_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = ["# batchmon settings. Secrets are kept in the OS keyring, not here."]
    for f in fields(Settings):
        value = getattr(settings, f.name)
        if f.name in SECRET_FIELDS or f.name == "demo" or value is None:
            continue
        lines.append(f"{f.name} = {_toml_value(value)}")
    tmp = path.with_suffix(".tmp")
    tmp.write_text("\n".join(lines) + "\n", encoding="utf-8")
    tmp.replace(path)
    if use_keyring:
        import keyring
        from keyring.errors import PasswordDeleteError

        for name in sorted(SECRET_FIELDS):
            secret = getattr(settings, name)
            if secret:
                keyring.set_password(KEYRING_SERVICE, name, secret)
            else:
                with contextlib.suppress(PasswordDeleteError):
                    keyring.delete_password(KEYRING_SERVICE, name)
    return path
