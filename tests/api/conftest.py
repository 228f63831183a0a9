from __future__ import annotations

import json

import pytest

from tests.resilience.conftest import alice_file  # noqa: F401 - Alice's file, for real ids


def api_token(user) -> str:
    """An API token for `user`: the one place tests make one (the token model may change)."""
    from knox.models import get_token_model

    return get_token_model().objects.create(user=user)[1]


class Api:
    """An API client signed in with a token, as a real client is."""

    def __init__(self, client, user):
        self.client = client
        self.headers = {"Authorization": f"Token {api_token(user)}"}

    def get(self, url: str, query: dict | None = None):
        return self.client.get(url, query or {}, headers=self.headers)

    def post(self, url: str, body, method: str = "post"):
        data = body if isinstance(body, str | bytes) else json.dumps(body)
        send = getattr(self.client, method)
        return send(url, data, content_type="application/json", headers=self.headers)


@pytest.fixture
def api(client):
    """`api(user)`: an API client with that user's token."""
    return lambda user: Api(client, user)


@pytest.fixture
def all_roles_user(db):
    """A staff member with every staff role: every operation of the API is open to them."""
    from people.roles import Role, assign_role
    from tests.factories import StaffFactory

    user = StaffFactory(username="allroles", role=Role.CLINICIAN)
    assign_role(user, Role.FRONT_DESK)
    assign_role(user, Role.CLINIC_ADMIN)
    return user
