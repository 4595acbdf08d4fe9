"""Make an API token for a user; its key is printed once and stored only as a hash."""

from __future__ import annotations

from argparse import ArgumentParser
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.db import DEFAULT_DB_ALIAS, DatabaseError, connections

from backend.tokens import create_token
from sqlmigrations.errors import mask_secrets, one_line


class Command(BaseCommand):
    help = (
        "Create a token for USERNAME and print its key once. Scripts send it as "
        "'Authorization: Bearer <key>'; it can write what the user may change. "
        "Revoke it by deleting it in the admin (API tokens)."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("username", help="the user the token acts as (must exist)")
        parser.add_argument(
            "--name", default="", help="what the token is for, shown in the admin (optional)"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if len(options["name"]) > 100:
            raise CommandError("--name: at most 100 characters", returncode=2)
        try:
            key = self.create(options["username"], options["name"])
        except DatabaseError as exc:
            # Most often Django's own tables are missing: migrate has not run here.
            text = mask_secrets(one_line(str(exc)), connections[DEFAULT_DB_ALIAS].settings_dict)
            raise CommandError(
                f"database error: {text} (have Django's tables been made? "
                "run python manage.py migrate first)"
            ) from exc
        self.stdout.write(key)

    def create(self, username: str, name: str) -> str:
        user = get_user_model()._default_manager.filter(username=username).first()
        if user is None:
            raise CommandError(
                f"no user named {username!r}: create one with createsuperuser first",
                returncode=2,
            )
        if not user.is_active:
            raise CommandError(f"user {username!r} is inactive", returncode=2)
        return create_token(user, name)
