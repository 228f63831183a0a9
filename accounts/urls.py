from django.urls import path

from . import views

urlpatterns = [
    # Before django.contrib.auth.urls (included after this), which has the same path.
    path("password_reset/", views.password_reset, name="password_reset"),
    path("2fa/", views.otp_verify, name="otp_verify"),
    path("2fa/set-up/", views.otp_enrol, name="otp_enrol"),
    path(
        "invite/<uidb64>/<token>/",
        views.InviteAcceptView.as_view(),
        name="invite_accept",
    ),
]
