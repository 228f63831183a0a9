"""The account throttle's rule, without HTTP: free failures, then a doubling, capped wait."""

from __future__ import annotations

import datetime

import pytest
import time_machine

from accounts.throttle import sign_in_failed, sign_in_succeeded, sign_in_wait

START = datetime.datetime(2026, 11, 20, 9, 0, tzinfo=datetime.UTC)


@pytest.fixture(autouse=True)
def _rule(settings):
    settings.ACCOUNT_THROTTLE_FREE_FAILURES = 10
    settings.ACCOUNT_THROTTLE_MAX_WAIT_SECONDS = 300
    settings.ACCOUNT_THROTTLE_FORGET_AFTER = datetime.timedelta(hours=24)


@pytest.mark.django_db
def test_waits_double_after_the_free_failures_up_to_the_cap():
    waits = []
    with time_machine.travel(START, tick=False):
        for _ in range(20):
            sign_in_failed(username="carla")
            waits.append(sign_in_wait(username="carla"))
    assert waits[:9] == [0] * 9
    assert waits[9:] == [1, 2, 4, 8, 16, 32, 64, 128, 256, 300, 300]


@pytest.mark.django_db
def test_the_wait_runs_down_and_is_forgotten_or_cleared():
    with time_machine.travel(START, tick=False) as clock:
        for _ in range(14):
            sign_in_failed(username="carla")
        assert sign_in_wait(username="carla") == 16
        clock.shift(10)
        assert sign_in_wait(username="carla") == 6
        clock.shift(6)
        assert sign_in_wait(username="carla") == 0
        assert sign_in_wait(username="someone-else") == 0
        sign_in_failed(username="carla")
        assert sign_in_wait(username="carla") == 32
        clock.shift(datetime.timedelta(hours=25))
        assert sign_in_wait(username="carla") == 0  # forgotten a day after the last one
        sign_in_failed(username="carla")
        assert sign_in_wait(username="carla") == 0  # and counting starts again
        for _ in range(12):
            sign_in_failed(username="carla")
        sign_in_succeeded(username="carla")
        assert sign_in_wait(username="carla") == 0
