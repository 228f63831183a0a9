from __future__ import annotations

from django.conf import settings
from rest_framework.authtoken.models import Token
from rest_framework.authtoken.views import ObtainAuthToken
from rest_framework.exceptions import PermissionDenied, ValidationError
from rest_framework.response import Response
from rest_framework.settings import api_settings

from .sessions import needs_second_factor


class ObtainToken(ObtainAuthToken):
    """DRF's token endpoint, hardened like the sign-in page.

    The serializer authenticates with the request, so django-axes counts failures here as on
    the sign-in page; axes marks DRF's request object, which its middleware does not see, so
    the lockout answer (the same whether or not the username exists) is given here. A token
    is a password-only credential, so accounts that sign in with a second factor get none.
    """

    parser_classes = api_settings.DEFAULT_PARSER_CLASSES  # DRF's view names its own, unbounded

    def post(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        try:
            serializer.is_valid(raise_exception=True)
        except ValidationError:
            if getattr(request, "axes_locked_out", False):
                return Response(
                    {"detail": "Too many unsuccessful sign-in attempts. Try again later."},
                    status=settings.AXES_HTTP_RESPONSE_CODE,
                )
            raise
        user = serializer.validated_data["user"]
        if needs_second_factor(user):
            raise PermissionDenied(
                "This account signs in with two steps, so it cannot get an API token with "
                "its password alone."
            )
        token, _ = Token.objects.get_or_create(user=user)
        return Response({"token": token.key})


obtain_token = ObtainToken.as_view()
