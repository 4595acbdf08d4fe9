"""API tokens: made here, checked here; only a key's SHA-256 is ever stored."""

from __future__ import annotations

import hashlib
import secrets
from typing import cast

from django.contrib.auth.models import AbstractBaseUser, AbstractUser

from backend.models import ApiToken


def digest(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()


def create_token(user: AbstractBaseUser, name: str = "") -> str:
    """A new token for ``user``; returns its key, which is not stored and not shown again."""
    key = secrets.token_urlsafe(32)
    ApiToken.objects.create(user=user, name=name, digest=digest(key))
    return key


def user_for_key(key: str) -> AbstractUser | None:
    """The active user a key belongs to, or None."""
    token = ApiToken.objects.select_related("user").filter(digest=digest(key)).first()
    if token is None or not token.user.is_active:
        return None
    return cast(AbstractUser, token.user)
