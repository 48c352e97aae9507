"""Users, sessions and JWTs, as Supabase Auth (GoTrue) issues and checks them.

Tokens are HS256 JWTs signed with one test secret, carrying the claims PostgREST and
Realtime read (``sub``, ``role``, ``aud``, ``exp``). The gateway's clock can run ahead
of the client's (:meth:`TokenAuthority.advance`), which is how tests make a token
expire without waiting for it.
"""

from __future__ import annotations

import secrets
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import jwt

TEST_JWT_SECRET = "batchmon-gateway-test-secret-0123456789abcdef"


class TokenError(Exception):
    """A JWT was refused; ``expired`` tells an expired token from a forged one."""

    def __init__(self, message: str, *, expired: bool = False, seconds_ago: int = 0) -> None:
        super().__init__(message)
        self.expired = expired
        self.seconds_ago = seconds_ago


class AuthRefused(Exception):
    """A GoTrue request was refused; carries GoTrue's error code and HTTP status."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


@dataclass
class User:
    id: str
    email: str
    password: str
    created_at: datetime = field(default_factory=lambda: datetime.now(UTC))

    def as_json(self) -> dict[str, Any]:
        created = self.created_at.isoformat()
        return {
            "id": self.id,
            "aud": "authenticated",
            "role": "authenticated",
            "email": self.email,
            "phone": "",
            "email_confirmed_at": created,
            "confirmed_at": created,
            "last_sign_in_at": created,
            "app_metadata": {"provider": "email", "providers": ["email"]},
            "user_metadata": {},
            "identities": [],
            "created_at": created,
            "updated_at": created,
            "is_anonymous": False,
        }


@dataclass
class _RefreshToken:
    user_id: str
    session_id: str
    revoked: bool = False


class TokenAuthority:
    """Issues and verifies the gateway's JWTs; keeps users and refresh tokens in memory."""

    def __init__(self, *, secret: str = TEST_JWT_SECRET, token_ttl: int = 3600) -> None:
        self.secret = secret
        self.token_ttl = token_ttl
        self.clock_offset = 0.0
        self.users: dict[str, User] = {}
        self._refresh: dict[str, _RefreshToken] = {}
        self.refreshes = 0
        self.anon_key = self._api_key("anon")
        self.service_role_key = self._api_key("service_role")
        # The key kinds Supabase issues now: opaque strings, not JWTs. Supabase's API
        # gateway stands each for a short-lived JWT of its role when no user token is
        # sent; here verify() maps them to those claims.
        self.publishable_key = f"sb_publishable_{secrets.token_urlsafe(16)}"
        self.secret_key = f"sb_secret_{secrets.token_urlsafe(16)}"
        self._opaque_roles = {self.publishable_key: "anon", self.secret_key: "service_role"}

    def now(self) -> float:
        return time.time() + self.clock_offset

    def advance(self, seconds: float) -> None:
        """Move the gateway's clock forward: tokens issued before may now be expired."""
        self.clock_offset += seconds

    def _api_key(self, role: str) -> str:
        issued = int(self.now())
        claims = {
            "iss": "supabase-demo",
            "role": role,
            "iat": issued,
            "exp": issued + 10 * 365 * 86400,
        }
        return jwt.encode(claims, self.secret, algorithm="HS256")

    def add_user(self, email: str, password: str) -> User:
        user = User(id=str(uuid.uuid4()), email=email, password=password)
        self.users[user.id] = user
        return user

    def sign_in(self, email: str, password: str) -> dict[str, Any]:
        user = next((u for u in self.users.values() if u.email == email), None)
        if user is None or not secrets.compare_digest(user.password, password):
            raise AuthRefused(400, "invalid_credentials", "Invalid login credentials")
        return self._session(user, session_id=str(uuid.uuid4()))

    def refresh(self, refresh_token: str) -> dict[str, Any]:
        entry = self._refresh.get(refresh_token)
        if entry is None:
            raise AuthRefused(
                400, "refresh_token_not_found", "Invalid Refresh Token: Refresh Token Not Found"
            )
        if entry.revoked:
            raise AuthRefused(
                400, "refresh_token_already_used", "Invalid Refresh Token: Already Used"
            )
        entry.revoked = True
        self.refreshes += 1
        return self._session(self.users[entry.user_id], session_id=entry.session_id)

    def sign_out(self, claims: dict[str, Any], scope: str) -> None:
        for entry in self._refresh.values():
            same_user = entry.user_id == claims.get("sub")
            same_session = entry.session_id == claims.get("session_id")
            if (scope == "global" and same_user) or (scope == "local" and same_session):
                entry.revoked = True
            if scope == "others" and same_user and not same_session:
                entry.revoked = True

    def _session(self, user: User, *, session_id: str) -> dict[str, Any]:
        issued = int(self.now())
        claims = {
            "iss": "http://127.0.0.1/auth/v1",
            "aud": "authenticated",
            "sub": user.id,
            "email": user.email,
            "phone": "",
            "role": "authenticated",
            "aal": "aal1",
            "amr": [{"method": "password", "timestamp": issued}],
            "session_id": session_id,
            "is_anonymous": False,
            "app_metadata": {"provider": "email", "providers": ["email"]},
            "user_metadata": {},
            "iat": issued,
            "exp": issued + self.token_ttl,
        }
        refresh_token = secrets.token_urlsafe(16)
        self._refresh[refresh_token] = _RefreshToken(user.id, session_id)
        return {
            "access_token": jwt.encode(claims, self.secret, algorithm="HS256"),
            "token_type": "bearer",
            "expires_in": self.token_ttl,
            "expires_at": issued + self.token_ttl,
            "refresh_token": refresh_token,
            "user": user.as_json(),
        }

    def verify(self, token: str) -> dict[str, Any]:
        """The claims of a token this gateway signed, checked against the gateway's clock."""
        if token in self._opaque_roles:
            issued = int(self.now())
            return {"role": self._opaque_roles[token], "iat": issued, "exp": issued + 3600}
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                self.secret,
                algorithms=["HS256"],
                options={
                    "verify_exp": False,
                    "verify_aud": False,
                    "verify_iat": False,
                    "verify_nbf": False,
                },
            )
        except jwt.PyJWTError as exc:
            raise TokenError(f"invalid JWT: {exc}") from exc
        exp = claims.get("exp")
        if not isinstance(exp, int | float):
            raise TokenError("invalid JWT: no exp claim")
        now = self.now()
        if exp <= now:
            raise TokenError("JWT expired", expired=True, seconds_ago=int(now - exp))
        if claims.get("role") not in ("anon", "authenticated", "service_role"):
            raise TokenError(f"invalid JWT: unknown role {claims.get('role')!r}")
        return claims

    def is_api_key(self, key: str | None) -> bool:
        return key in (self.anon_key, self.service_role_key, *self._opaque_roles)
