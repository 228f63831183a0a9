"""A patient who forgot their password resets it by email and lands in their portal."""

from __future__ import annotations

import re

from django.core import mail
from django.urls import reverse


def test_password_reset_then_sign_in_reaches_the_portal(client, alice, course):
    client.post(reverse("password_reset"), {"email": alice.user.email})
    (email,) = mail.outbox
    link = re.search(r"https?://[^/\s]+(/accounts/reset/\S+)", email.body).group(1)
    form = client.get(link, follow=True)
    assert form.status_code == 200
    set_password = form.redirect_chain[-1][0]
    new = "a-new-long-passphrase-2026"
    done = client.post(set_password, {"new_password1": new, "new_password2": new})
    assert done.status_code == 302
    # The link is single use.
    assert b"new_password1" not in client.get(link, follow=True).content
    client.logout()
    response = client.post(
        reverse("login"), {"username": alice.user.username, "password": new}, follow=True
    )
    assert response.redirect_chain[-1][0] == reverse("portal:home")
    assert "3 of 6 sessions done" in response.content.decode()
