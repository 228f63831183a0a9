from django.urls import path

from . import views

urlpatterns = [
    path("2fa/", views.otp_verify, name="otp_verify"),
    path("2fa/set-up/", views.otp_enrol, name="otp_enrol"),
    path(
        "invite/<uidb64>/<token>/",
        views.InviteAcceptView.as_view(),
        name="invite_accept",
    ),
]
