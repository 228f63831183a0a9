"""Slowing password guessing on one account, whichever addresses it comes from, and limiting
password-reset emails.

django-axes locks a username out *from one address* after AXES_FAILURE_LIMIT wrong passwords.
Spread over many addresses, guesses were never stopped; and a lockout by username alone would
let anyone lock a clinician out. So the account gets a throttle that slows rather than locks:
the first ACCOUNT_THROTTLE_FREE_FAILURES wrong passwords (since the last right one, within
ACCOUNT_THROTTLE_FORGET_AFTER) are judged as usual; after that each attempt must wait a delay
that doubles with every further wrong password, up to ACCOUNT_THROTTLE_MAX_WAIT_SECONDS.

While the delay runs, no password is judged, the right one included: otherwise the throttle
would still answer "right" at full speed, and guessing would go on unslowed. Attempts refused
during the delay are not counted, so they neither lengthen it nor lock the owner out: an
attacker who keeps trying holds the owner up by at most one delay per judged guess, and gets
only one guess per delay. The owner who waits it out signs in, which clears the count.
"""

from __future__ import annotations

import datetime as dt

from axes.handlers.database import AxesDatabaseHandler
from axes.helpers import get_client_username
from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.crypto import salted_hmac

from audit.ip import client_ip

from .models import PasswordResetRequest, SignInThrottle


def sign_in_wait(*, username: str, now: dt.datetime | None = None) -> int:
    """Seconds before a password for `username` will be judged again (0: now)."""
    now = now or timezone.now()
    row = SignInThrottle.objects.filter(username=username[:150]).first()
    if row is None or now - row.last_failure_at > settings.ACCOUNT_THROTTLE_FORGET_AFTER:
        return 0
    over = row.failures - settings.ACCOUNT_THROTTLE_FREE_FAILURES
    if over < 0:
        return 0
    delay = min(2**over, settings.ACCOUNT_THROTTLE_MAX_WAIT_SECONDS)
    left = row.last_failure_at + dt.timedelta(seconds=delay) - now
    return max(0, int(left.total_seconds() + 0.999))


def sign_in_failed(*, username: str) -> None:
    """Counts a wrong password judged for `username`."""
    now = timezone.now()
    with transaction.atomic():
        # Guessed usernames leave a row each: those forgotten anyway go.
        SignInThrottle.objects.filter(
            last_failure_at__lt=now - settings.ACCOUNT_THROTTLE_FORGET_AFTER
        ).delete()
        row, created = SignInThrottle.objects.select_for_update().get_or_create(
            username=username[:150], defaults={"failures": 1, "last_failure_at": now}
        )
        if created:
            return
        row.failures += 1
        row.last_failure_at = now
        row.save(update_fields=["failures", "last_failure_at"])


def sign_in_succeeded(*, username: str) -> None:
    SignInThrottle.objects.filter(username=username[:150]).delete()


class AxesHandler(AxesDatabaseHandler):
    """django-axes' database handler, with the account's throttle beside its lockout.

    Axes asks is_allowed() before any password is judged (AxesStandaloneBackend comes first),
    so every sign-in path - the page, the admin, the API token - is throttled here alike.
    """

    def is_allowed(self, request, credentials=None) -> bool:
        request.sign_in_unjudged = True
        if not super().is_allowed(request, credentials):
            return False
        username = get_client_username(request, credentials)
        wait = sign_in_wait(username=username) if username else 0
        if wait:
            request.sign_in_wait = wait
            return False
        request.sign_in_unjudged = False
        return True

    def user_login_failed(self, sender, credentials: dict, request=None, **kwargs):
        if request is not None and getattr(request, "sign_in_wait", 0):
            # Refused by the throttle, unjudged: the lockout page says how long to wait, and
            # nothing is counted (by axes either), so waiting out the delay is enough.
            request.axes_locked_out = True
            request.axes_credentials = credentials
            return
        super().user_login_failed(sender, credentials, request, **kwargs)
        username = get_client_username(request, credentials) if request is not None else None
        if username and not getattr(request, "sign_in_unjudged", False):
            sign_in_failed(username=username)

    def user_logged_in(self, sender, request, user, **kwargs):
        super().user_logged_in(sender, request, user, **kwargs)
        sign_in_succeeded(username=user.get_username())


# --- password reset -------------------------------------------------------------------------


def password_reset_allowed(*, email: str, request) -> bool:
    """Records a request for a reset email and says whether one may be sent: at most
    PASSWORD_RESET_PER_EMAIL an hour for one address asked for, and PASSWORD_RESET_PER_CLIENT
    an hour from one client address. The same for addresses with and without an account."""
    return _email_allowed(
        purpose=PasswordResetRequest.Purpose.PASSWORD_RESET,
        email=email,
        request=request,
        per_email=settings.PASSWORD_RESET_PER_EMAIL,
        per_client=settings.PASSWORD_RESET_PER_CLIENT,
    )


def signup_allowed(*, email: str, request) -> bool:
    """The same for the public sign-up, whose every answer emails someone (a verification
    link, or a hint to the person already on file): at most SIGNUP_PER_EMAIL an hour for one
    address and SIGNUP_PER_CLIENT an hour from one client address, whether or not the address
    is known."""
    return _email_allowed(
        purpose=PasswordResetRequest.Purpose.SIGNUP,
        email=email,
        request=request,
        per_email=settings.SIGNUP_PER_EMAIL,
        per_client=settings.SIGNUP_PER_CLIENT,
    )


def _email_allowed(*, purpose: str, email: str, request, per_email: int, per_client: int) -> bool:
    now = timezone.now()
    hour_ago = now - dt.timedelta(hours=1)
    digest = salted_hmac(
        "accounts.password_reset", email.strip().lower(), algorithm="sha256"
    ).hexdigest()
    ip = client_ip(request)
    with transaction.atomic():
        PasswordResetRequest.objects.filter(requested_at__lt=now - dt.timedelta(days=1)).delete()
        recent = PasswordResetRequest.objects.filter(requested_at__gte=hour_ago, purpose=purpose)
        allowed = recent.filter(email_digest=digest).count() < per_email
        if ip is not None:
            allowed = allowed and recent.filter(client_ip=ip).count() < per_client
        # Only emails sent count: refused requests do not push the window on, so a flood
        # cannot keep an address from ever getting one.
        if allowed:
            PasswordResetRequest.objects.create(
                purpose=purpose, email_digest=digest, client_ip=ip, requested_at=now
            )
    return allowed
