"""Session keys the sign-in hardening keeps, and the checks on them."""

from __future__ import annotations

from django.conf import settings
from django.utils import timezone

LOGIN_AT = "accounts.login_at"  # when this session signed in (epoch seconds)
SEEN_AT = "accounts.seen_at"  # when the session's expiry was last slid forward
OTP_PENDING = "accounts.otp_pending"  # "verify" or "enrol": a second factor is still owed

# Whoever may see any of these must sign in with a second factor when REQUIRE_SECOND_FACTOR
# is on: a role's reach, not its name, decides (a superuser holds them all).
SECOND_FACTOR_PERMISSIONS = ("photos.view_photo", "treatments.view_historyentry")


def now_ts() -> float:
    return timezone.now().timestamp()


def absolute_age_exceeded(session) -> bool:
    login_at = session.get(LOGIN_AT)
    return login_at is not None and now_ts() - login_at > settings.SESSION_ABSOLUTE_AGE


def needs_second_factor(user) -> str:
    """'verify' with a confirmed authenticator; 'enrol' for staff who must have one."""
    from django_otp.plugins.otp_totp.models import TOTPDevice

    if TOTPDevice.objects.filter(user=user, confirmed=True).exists():
        return "verify"
    if settings.REQUIRE_SECOND_FACTOR and any(
        user.has_perm(permission) for permission in SECOND_FACTOR_PERMISSIONS
    ):
        return "enrol"
    return ""
