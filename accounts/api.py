from __future__ import annotations

from django.conf import settings
from rest_framework.authtoken.views import ObtainAuthToken
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response


class ObtainToken(ObtainAuthToken):
    """DRF's token endpoint, answering a sign-in lockout (django-axes) with its own status.

    The serializer authenticates with the request, so django-axes counts failures here as on
    the sign-in page; axes marks DRF's request object, which its middleware does not see.
    The answer is the same whether or not the username exists.
    """

    def post(self, request, *args, **kwargs):
        try:
            return super().post(request, *args, **kwargs)
        except ValidationError:
            if getattr(request, "axes_locked_out", False):
                return Response(
                    {"detail": "Too many unsuccessful sign-in attempts. Try again later."},
                    status=settings.AXES_HTTP_RESPONSE_CODE,
                )
            raise


obtain_token = ObtainToken.as_view()
