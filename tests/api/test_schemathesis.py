"""The OpenAPI schema, exercised by schemathesis in-process against the WSGI app, for every
role: front desk, clinician, clinic admin and a patient (who has no API: every answer a
documented refusal).

Each role signs its requests with its own API token (as a real client does). Every operation
gets a bounded number of generated requests, and every answer goes through all of
schemathesis's checks but one (see STATEFUL_REFUSALS): no server error, the status code and
content type documented, the body and headers matching the schema, invalid data refused,
unsupported methods refused, authentication not ignored.
"""

from __future__ import annotations

import pytest
import schemathesis
from django.core.handlers.wsgi import WSGIHandler
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.specs.openapi.checks import positive_data_acceptance

from tests.api.conftest import api_token
from tests.resilience.test_access_matrix import api_ids

EXAMPLES_PER_OPERATION = 10
# Every check but one: "positive data acceptance" wants every schema-valid request accepted,
# but a valid shape may still name a record that does not exist, a slot that is taken or a
# course that screening refuses, and those are 400s with the reason, as documented.
STATEFUL_REFUSALS = [positive_data_acceptance]


@pytest.fixture
def api_schema(all_roles_user, alice_file):
    """The schema the app serves, loaded through the app itself by a staff member."""
    # As Django's test client does: the test's transaction must outlive each request.
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield schemathesis.openapi.from_wsgi(
            "/api/schema/?format=json",
            WSGIHandler(),
            headers={"Authorization": f"Token {api_token(all_roles_user)}"},
        )
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


def exercise(operation, *, ids: dict, token: str, tally: dict):
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
        tally["cases"] += 1
        case.call_and_validate(
            headers={"Authorization": f"Token {token}"}, excluded_checks=STATEFUL_REFUSALS
        )

    return run


@pytest.mark.parametrize("role", ["front_desk", "clinician", "admin", "alice"])
def test_api_conforms_to_its_schema_for_every_role(api_schema, persona, role, alice_file):
    """Each operation in turn; the failures of all operations are reported together."""
    token = api_token(persona(role))
    failures, tally = [], {"cases": 0}
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert len(operations) > 40, "the schema lost its operations"
    for operation in operations:
        ids = api_ids(operation.path, alice_file)
        try:
            exercise(operation, ids=ids, token=token, tally=tally)()
        except (Exception, BaseExceptionGroup) as error:  # every finding, not the first
            failures.append(f"{operation.method.upper()} {operation.path}:\n{error}")
    print(f"schemathesis {role}: {tally['cases']} cases, {len(failures)} failing operations")
    assert not failures, "\n\n".join(failures)
