from __future__ import annotations

from django.db import models


class SignInThrottle(models.Model):
    """Wrong passwords given for one username, from any address (accounts/throttle.py).

    Keyed by the username as typed, whether or not such an account exists, so the answer
    never tells which usernames are real. Kept in the database: whoever can write to the
    cache must not be able to lift it (or set it).
    """

    username = models.CharField(max_length=150, unique=True)
    failures = models.PositiveIntegerField(default=0)
    last_failure_at = models.DateTimeField(db_index=True)

    def __str__(self) -> str:
        return f"{self.failures} wrong passwords"


class PasswordResetRequest(models.Model):
    """One request for a password-reset email, to limit how many are sent. The address asked
    for is kept only as a keyed hash."""

    email_digest = models.CharField(max_length=64, db_index=True)
    client_ip = models.GenericIPAddressField(null=True, db_index=True)
    requested_at = models.DateTimeField(db_index=True)

    def __str__(self) -> str:
        return f"password reset requested at {self.requested_at:%Y-%m-%d %H:%M}"
