from __future__ import annotations

from django.conf import settings
from django.utils.decorators import method_decorator
from django.views.decorators.cache import never_cache
from django_otp.plugins.otp_totp.models import TOTPDevice
from drf_spectacular.utils import extend_schema, inline_serializer
from knox.models import get_token_model
from knox.views import LogoutView
from rest_framework import serializers
from rest_framework.authtoken.serializers import AuthTokenSerializer
from rest_framework.exceptions import PermissionDenied, ValidationError
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from audit.services import Action, audit_log

from .sessions import needs_second_factor


class TokenRequestSerializer(AuthTokenSerializer):
    otp = serializers.RegexField(
        r"^\s*\d{6}\s*$",
        required=False,
        write_only=True,
        error_messages={"invalid": "Send the six digits your authenticator app shows."},
        help_text="The code from the authenticator app, for accounts that have one.",
    )


@method_decorator(never_cache, name="dispatch")
class ObtainToken(APIView):
    """An expiring API token (django-rest-knox) for a password, and a second factor if owed.

    The serializer authenticates with the request, so django-axes counts failures here as on
    the sign-in page; axes marks DRF's request object, which its middleware does not see, so
    the lockout answer (the same whether or not the username exists) is given here. Staff who
    sign in with a second factor send its code as `otp`; those who must set one up get no token
    until they have. A new token is refused nothing it was not issued for: accounts/signals.py
    ends every token when the password, roles, second factor or the account's state change.
    """

    authentication_classes = ()
    permission_classes = (AllowAny,)
    serializer_class = TokenRequestSerializer

    @extend_schema(
        request=TokenRequestSerializer,
        responses=inline_serializer(
            "IssuedToken", {"token": serializers.CharField(), "expiry": serializers.DateTimeField()}
        ),
    )
    def post(self, request, *args, **kwargs):
        serializer = self.serializer_class(data=request.data, context={"request": request})
        try:
            serializer.is_valid(raise_exception=True)
        except ValidationError:
            if wait := getattr(request, "sign_in_wait", 0):
                return Response(
                    {
                        "detail": "Too many wrong passwords for this account: sign-in is "
                        f"slowed. Try again in {wait} seconds."
                    },
                    status=settings.AXES_HTTP_RESPONSE_CODE,
                    headers={"Retry-After": str(wait)},
                )
            if getattr(request, "axes_locked_out", False):
                return Response(
                    {"detail": "Too many unsuccessful sign-in attempts. Try again later."},
                    status=settings.AXES_HTTP_RESPONSE_CODE,
                )
            raise
        user = serializer.validated_data["user"]
        second_factor_check(request, user, serializer.validated_data.get("otp", "").strip())
        instance, token = get_token_model().objects.create(user=user)
        # A token is a sign-in: it goes to the audit log like one (never the key itself).
        audit_log(actor=user, action=Action.LOGIN, obj=user, detail="API token issued")
        return Response({"token": token, "expiry": instance.expiry})


def second_factor_check(request, user, code: str) -> None:
    """Raises PermissionDenied unless the user owes no second factor or `code` is right."""
    owed = needs_second_factor(user)
    if owed == "enrol":
        raise PermissionDenied(
            "This account must sign in with two steps: set up an authenticator app on the "
            "website first, then ask for a token with its code as `otp`."
        )
    if owed != "verify":
        return
    if not code:
        raise PermissionDenied(
            "This account signs in with two steps: send the six-digit code from your "
            "authenticator app as `otp` with the password."
        )
    device = TOTPDevice.objects.filter(user=user, confirmed=True).first()
    allowed, _ = device.verify_is_allowed()
    if not allowed:
        raise PermissionDenied("Too many wrong codes. Wait a moment, then try again.")
    if not device.verify_token(code):
        audit_log(
            actor=user,
            action=Action.LOGIN,
            obj=user,
            allowed=False,
            request=request,
            detail="wrong second-factor code for an API token",
        )
        raise PermissionDenied("That code is not right, or it has expired. Try the next one.")


class RevokeToken(LogoutView):
    """Ends the token this request is signed with; the account's other tokens stay."""

    @extend_schema(request=None, responses={204: None})
    def post(self, request, format=None):
        return super().post(request, format)


obtain_token = ObtainToken.as_view()
revoke_token = RevokeToken.as_view()
