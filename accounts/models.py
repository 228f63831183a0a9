from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone


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
    """One request for an email that anyone may ask for (a password reset, a sign-up's
    verification link), to limit how many are sent. The address asked for is kept only as a
    keyed hash."""

    class Purpose(models.TextChoices):
        PASSWORD_RESET = "password_reset", "Password reset"
        SIGNUP = "signup", "Sign-up"

    purpose = models.CharField(
        max_length=20, choices=Purpose.choices, default=Purpose.PASSWORD_RESET
    )
    email_digest = models.CharField(max_length=64, db_index=True)
    client_ip = models.GenericIPAddressField(null=True, db_index=True)
    requested_at = models.DateTimeField(db_index=True)

    def __str__(self) -> str:
        return f"password reset requested at {self.requested_at:%Y-%m-%d %H:%M}"


class PendingSignup(models.Model):
    """A portal account made by the public sign-up whose email address is not verified yet.

    The account is inactive (it cannot sign in) while this row exists; the emailed link
    (accounts.signup) activates it and deletes the row. Only such an account is ever
    activated by a link: one switched off by staff or by a merge has no row.
    """

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="pending_signup"
    )
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"sign-up of {self.created_at:%Y-%m-%d %H:%M}, not verified"
