"""The sign-up's emails. Each joins the outbox (core.outbox), which retries the mail server."""

from __future__ import annotations

from celery import shared_task
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import send_mail
from django.db.models import Q
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from people.tokens import signup_token_generator


def _site(path: str) -> str:
    return settings.SITE_URL.rstrip("/") + path


def _send(name: str, context: dict, address: str) -> None:
    context = {**context, "clinic_name": settings.CLINIC_NAME}
    subject = render_to_string(f"accounts/email/{name}_subject.txt", context).strip()
    body = render_to_string(f"accounts/email/{name}_body.txt", context)
    send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, [address])


def _verification_link(user) -> str:
    return _site(
        reverse(
            "signup_verify",
            kwargs={
                "uidb64": urlsafe_base64_encode(force_bytes(user.pk)),
                "token": signup_token_generator.make_token(user),
            },
        )
    )


@shared_task(name="accounts.send_signup_verification", ignore_result=True)
def send_signup_verification(user_id: int) -> bool:
    """Emails the link that verifies a sign-up's address; nothing once it is verified."""
    user = get_user_model().objects.filter(pk=user_id, pending_signup__isnull=False).first()
    if user is None:
        return False
    _send("signup_verify", {"user": user, "link": _verification_link(user)}, user.email)
    return True


@shared_task(name="accounts.send_signup_hint", ignore_result=True)
def send_signup_hint(address: str) -> bool:
    """Someone signed up with details of a person the clinic knows: that person, at the
    address on file, learns how to get in: an open account, the sign-in and password-reset
    pages; anyone else, to ask the clinic for an invitation. Never a verification link: that
    would open an account whose password whoever signed up chose."""
    users = get_user_model().objects.filter(Q(username__iexact=address) | Q(email__iexact=address))
    context = {
        "has_account": any(user.is_active and user.has_usable_password() for user in users),
        "login_url": _site(reverse("login")),
        "reset_url": _site(reverse("password_reset")),
        "clinic_phone": settings.CLINIC_PHONE,
    }
    _send("signup_hint", context, address)
    return True


@shared_task(name="accounts.remove_unverified_signups", ignore_result=True)
def remove_unverified_signups() -> int:
    """Beat, daily: sign-ups nobody verified within SIGNUP_UNVERIFIED_DAYS are removed."""
    from .signup import unverified_signups_remove

    return unverified_signups_remove()
