"""Views see the signed-in user itself, not the lazy wrappers around it, with what django-otp
adds to it still there."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AnonymousUser
from django.urls import reverse
from django.utils.functional import LazyObject


def test_a_page_sees_the_user_itself(client, clinician_user):
    client.force_login(clinician_user)
    response = client.get(reverse("home"), follow=True)
    user = response.wsgi_request.user
    assert not isinstance(user, LazyObject)
    assert type(user) is get_user_model()
    assert user.pk == clinician_user.pk
    assert user.is_verified() is False  # django-otp's, for an account without a device


def test_an_anonymous_request_sees_the_anonymous_user(client, db):
    response = client.get(reverse("login"))
    assert type(response.wsgi_request.user) is AnonymousUser
