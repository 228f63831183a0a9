"""Session limits and the second-factor gate, checked on every request."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth.views import redirect_to_login
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.cache import patch_cache_control
from django.utils.http import urlencode

from .sessions import OTP_PENDING, SEEN_AT, absolute_age_exceeded, now_ts


class SessionLimitsMiddleware:
    """Ends a session SESSION_ABSOLUTE_AGE after sign-in, and slides its idle expiry.

    The idle timeout itself is the session's expiry (SESSION_COOKIE_AGE), enforced by the
    session store on the server. Writing SEEN_AT marks the session modified, so it is saved
    with a fresh expiry; doing that at most once per SESSION_IDLE_REFRESH seconds keeps
    ordinary requests free of session writes.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        session = request.session
        if absolute_age_exceeded(session):
            logout(request)  # flushes the session on the server
            messages.info(
                request, "You were signed out after a long session. Please sign in again."
            )
            return redirect_to_login(request.get_full_path())
        seen_at = session.get(SEEN_AT)
        if seen_at is not None and now_ts() - seen_at >= settings.SESSION_IDLE_REFRESH:
            session[SEEN_AT] = now_ts()
        return self.get_response(request)


class SecondFactorMiddleware:
    """A user who owes a second factor reaches only the pages that take it, and sign-out."""

    OPEN_URL_NAMES = ("otp_verify", "otp_enrol", "logout")

    def __init__(self, get_response):
        self.get_response = get_response
        self._open_paths: tuple[str, ...] | None = None

    def open_paths(self) -> tuple[str, ...]:
        if self._open_paths is None:
            self._open_paths = tuple(reverse(name) for name in self.OPEN_URL_NAMES)
        return self._open_paths

    def __call__(self, request):
        pending = request.session.get(OTP_PENDING)
        if (
            pending
            and request.user.is_authenticated
            and not request.user.is_verified()
            and request.path not in self.open_paths()
            and not request.path.startswith(settings.STATIC_URL)
        ):
            target = "otp_enrol" if pending == "enrol" else "otp_verify"
            return redirect(f"{reverse(target)}?{urlencode({'next': request.get_full_path()})}")
        return self.get_response(request)


class NoStoreWhenSignedInMiddleware:
    """Every answer to a signed-in user (session or API token) says `no-store, private`, added
    to whatever the view said, so neither the browser's cache nor a shared one keeps a page or
    JSON with patient data - however a new view is written.

    DRF authenticates a token in the view and sets the user on the request it wraps, so the
    user is known here on the way out. A request carrying credentials is treated the same
    even when they were refused: a refusal is no one else's business either.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        user = getattr(request, "user", None)
        signed_in = user is not None and user.is_authenticated
        if signed_in or "HTTP_AUTHORIZATION" in request.META:
            patch_cache_control(response, no_store=True, private=True)
        return response
