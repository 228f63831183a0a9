"""Second factor (TOTP) enrolment and verification, the lockout page, the patient invite and
the public sign-up."""

from __future__ import annotations

import base64

import segno
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.urls import reverse, reverse_lazy
from django.utils.http import url_has_allowed_host_and_scheme, urlencode
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django_otp import login as otp_login
from django_otp.plugins.otp_totp.models import TOTPDevice

from audit.services import Action, audit_log
from core.views import form_status
from people.models import Patient
from people.tokens import invite_token_generator
from treatments.models import Intake

from .forms import SignupForm, TokenForm
from .sessions import OTP_PENDING
from .signup import patient_signup, signup_verify, user_for_link
from .throttle import password_reset_allowed, signup_allowed

DEVICE_NAME = "Authenticator app"


def _next_url(request) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return reverse_lazy("home")


def _second_factor_done(request, device) -> None:
    otp_login(request, device)
    request.session.pop(OTP_PENDING, None)
    audit_log(
        actor=request.user,
        action=Action.LOGIN,
        obj=request.user,
        request=request,
        detail="second factor verified",
    )


@never_cache
@sensitive_post_parameters("token")
@login_required
def otp_verify(request):
    """The step after the password for a user with a confirmed authenticator."""
    device = TOTPDevice.objects.filter(user=request.user, confirmed=True).first()
    if device is None:
        return redirect("otp_enrol")
    form = TokenForm(request.POST or None)
    status = 200
    if request.method == "POST":
        status = 400
        allowed, _ = device.verify_is_allowed()
        if not allowed:
            form.add_error(None, "Too many wrong codes. Wait a moment, then try again.")
        elif form.is_valid() and device.verify_token(form.cleaned_data["token"]):
            _second_factor_done(request, device)
            return redirect(_next_url(request))
        elif form.is_valid():
            form.add_error("token", "That code is not right, or it has expired. Try the next one.")
            audit_log(
                actor=request.user,
                action=Action.LOGIN,
                obj=request.user,
                allowed=False,
                request=request,
                detail="wrong second-factor code",
            )
    return render(
        request,
        "accounts/otp_verify.html",
        {"form": form, "next": _next_url(request)},
        status=status,
    )


@never_cache
@sensitive_post_parameters("token")
@login_required
def otp_enrol(request):
    """Shows a new authenticator secret (QR code and text) and confirms it with one code."""
    user = request.user
    if TOTPDevice.objects.filter(user=user, confirmed=True).exists():
        if not user.is_verified():
            # Someone holding only the password must not swap in an authenticator of their own.
            return redirect(f"{reverse('otp_verify')}?{urlencode({'next': _next_url(request)})}")
        messages.info(request, "Your account already has an authenticator app.")
        return redirect("home")
    device = TOTPDevice.objects.filter(user=user, confirmed=False).first()
    if device is None:
        device = TOTPDevice.objects.create(user=user, name=DEVICE_NAME, confirmed=False)
    form = TokenForm(request.POST or None)
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid() and device.verify_token(form.cleaned_data["token"]):
            device.confirmed = True
            device.save(update_fields=["confirmed"])
            TOTPDevice.objects.filter(user=user, confirmed=False).delete()
            _second_factor_done(request, device)
            messages.success(request, "Your authenticator app is set up.")
            return redirect(_next_url(request))
        if form.is_valid():
            form.add_error("token", "That code is not right. Check the app shows this account.")
    uri = device.config_url
    context = {
        "form": form,
        "next": _next_url(request),
        "secret": base64.b32encode(device.bin_key).decode(),
        "otpauth_uri": uri,
        "qr_data_uri": segno.make(uri, error="m").svg_data_uri(scale=4, border=2),
    }
    return render(request, "accounts/otp_enrol.html", context, status=status)


class InviteAcceptView(auth_views.PasswordResetConfirmView):
    """The invited patient chooses a password from the emailed link, and is signed in."""

    template_name = "accounts/invite_accept.html"
    token_generator = invite_token_generator
    post_reset_login = True
    post_reset_login_backend = "core.auth.ModelBackend"
    success_url = reverse_lazy("home")

    def form_valid(self, form):
        response = super().form_valid(form)
        messages.success(self.request, "Welcome. Your password is set.")
        return response

    def get_success_url(self):
        # A new patient's first step is the health questionnaire, until they have sent it.
        patient = Patient.objects.filter(user=self.user).first()
        if patient is not None and not Intake.objects.for_patient(patient).exists():
            return reverse("portal:intake")
        return super().get_success_url()


def locked_out(request, original_response=None, credentials=None):
    """django-axes' lockout answer (AXES_LOCKOUT_CALLABLE), or the account throttle's: the
    same for every username, so it does not tell whether an account exists."""
    wait = getattr(request, "sign_in_wait", 0)
    minutes = max(1, round(settings.AXES_COOLOFF_TIME.total_seconds() / 60))
    response = render(
        request,
        "registration/locked_out.html",
        {"cooloff_minutes": minutes, "wait_seconds": wait},
        status=settings.AXES_HTTP_RESPONSE_CODE,
    )
    response["Retry-After"] = str(wait or minutes * 60)
    return response


@sensitive_post_parameters()
def password_reset(request):
    """Django's password reset, with at most so many emails per address asked for and per
    client (accounts.throttle.password_reset_allowed); the limit looks the same whether or not
    the address has an account."""
    if request.method == "POST" and not password_reset_allowed(
        email=request.POST.get("email", ""), request=request
    ):
        response = render(request, "registration/password_reset_limited.html", status=429)
        response["Retry-After"] = "3600"
        return response
    return auth_views.PasswordResetView.as_view()(request)


@never_cache
@sensitive_post_parameters("password1", "password2")
def signup(request):
    """A new patient opens a portal account. Every valid sign-up answers the same page ("check
    your email"), whether it made an account or matched someone on file (accounts.signup)."""
    form = SignupForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        if not signup_allowed(email=form.cleaned_data["email"], request=request):
            response = render(request, "accounts/signup_limited.html", status=429)
            response["Retry-After"] = "3600"
            return response
        data = dict(form.cleaned_data)
        password = data.pop("password1")
        del data["password2"]
        try:
            patient_signup(**data, password=password, request=request)
        except ValidationError as error:
            form.add_error(None, error)
        else:
            return redirect("signup_sent")
    return render(request, "accounts/signup.html", {"form": form}, status=form_status(form))


def signup_sent(request):
    return render(request, "accounts/signup_sent.html", {"clinic_phone": settings.CLINIC_PHONE})


@never_cache
def signup_verify_view(request, uidb64: str, token: str):
    """The emailed link: a page with one button (a GET alone changes nothing, so a mail
    scanner that opens links does not verify anyone), then the account is open."""
    user = user_for_link(uidb64, token)
    if user is None:
        return render(request, "accounts/signup_verify.html", {"valid": False}, status=400)
    if request.method == "POST":
        try:
            signup_verify(user=user, request=request)
        except ValidationError:
            return render(request, "accounts/signup_verify.html", {"valid": False}, status=400)
        login_url = f"{reverse('login')}?{urlencode({'next': reverse('portal:intake')})}"
        return render(request, "accounts/signup_verified.html", {"login_url": login_url})
    return render(request, "accounts/signup_verify.html", {"valid": True})
