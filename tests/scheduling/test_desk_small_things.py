"""The small things a desk expects: the slot finder keeps its date, undo of check-in and
no-show, a confirmation before cancel and no-show, and refusals under their own heading."""

from __future__ import annotations

import re

import pytest


@pytest.fixture
def desk(client, front_desk_user):
    client.force_login(front_desk_user)
    return client


def test_the_slot_finder_date_field_holds_an_iso_date_the_browser_keeps(desk, clinic):
    # A date input discards "02/03/2026": the value must be YYYY-MM-DD, empty form or not.
    url = f"/desk/sessions/{clinic.sessions[0].pk}/slots/"
    empty = desk.get(url).content.decode()
    assert re.search(r'name="first_day" value="2026-03-02"', empty)
    searched = desk.get(url, {"first_day": "2026-03-09", "days": 3}).content.decode()
    assert re.search(r'name="first_day" value="2026-03-09"', searched)
