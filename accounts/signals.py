from __future__ import annotations

from django.contrib.auth.signals import user_logged_in
from django.dispatch import receiver

from .sessions import LOGIN_AT, OTP_PENDING, SEEN_AT, needs_second_factor, now_ts


@receiver(user_logged_in, dispatch_uid="accounts.stamp_session")
def _stamp_session(sender, request, user, **kwargs) -> None:
    """A new session (Django cycles the key at sign-in) learns when it began."""
    session = getattr(request, "session", None)
    if session is None:
        return
    session[LOGIN_AT] = session[SEEN_AT] = now_ts()
    pending = needs_second_factor(user)
    if pending:
        session[OTP_PENDING] = pending
    else:
        session.pop(OTP_PENDING, None)
