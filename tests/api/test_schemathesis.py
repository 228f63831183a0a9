"""The OpenAPI schema, exercised by schemathesis in-process against the WSGI app.

A staff member holding all three staff roles signs every request with an API token
(TokenAuthentication, as a real client does). Every operation gets a bounded number of
generated requests; none may answer with a server error, and every answer must conform to the
schema (status code documented, body matching its response schema).
"""

from __future__ import annotations

import pytest
import schemathesis
from django.core.handlers.wsgi import WSGIHandler
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from tests.resilience.test_access_matrix import api_ids

EXAMPLES_PER_OPERATION = 10


@pytest.fixture
def staff_token(db):
    from knox.models import get_token_model

    from people.roles import Role, assign_role
    from tests.factories import StaffFactory

    user = StaffFactory(username="allroles", role=Role.CLINICIAN)
    assign_role(user, Role.FRONT_DESK)
    assign_role(user, Role.CLINIC_ADMIN)
    return get_token_model().objects.create(user=user)[1]


@pytest.fixture
def api_schema(staff_token, alice_file):
    """The schema the app serves, loaded through the app itself with the token."""
    # As Django's test client does: the test's transaction must outlive each request.
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield schemathesis.openapi.from_wsgi(
            "/api/schema/?format=json",
            WSGIHandler(),
            headers={"Authorization": f"Token {staff_token}"},
        )
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


def exercise(operation, *, ids: dict, token: str):
    """A Hypothesis test of one operation: generated requests, half of them on real ids."""

    @given(case=operation.as_strategy(), real=st.booleans())
    @settings(
        max_examples=EXAMPLES_PER_OPERATION,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        derandomize=True,
        database=None,
    )
    def run(case, real):
        if real and case.path_parameters:
            case.path_parameters = {name: ids[name] for name in case.path_parameters}
        case.call_and_validate(
            headers={"Authorization": f"Token {token}"},
            checks=[not_a_server_error, response_schema_conformance],
        )

    return run


def test_api_conforms_to_its_schema(api_schema, staff_token, alice_file):
    """Each operation in turn; the failures of all operations are reported together."""
    failures = []
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert len(operations) > 40, "the schema lost its operations"
    for operation in operations:
        ids = api_ids(operation.path, alice_file)
        try:
            exercise(operation, ids=ids, token=staff_token)()
        except (Exception, BaseExceptionGroup) as error:  # every finding, not the first
            failures.append(f"{operation.method.upper()} {operation.path}:\n{error}")
    assert not failures, "\n\n".join(failures)
