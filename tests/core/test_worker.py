"""Tasks round-trip through a real `celery worker` process."""

import pytest

from core.tasks import ping


@pytest.mark.worker
@pytest.mark.parametrize("celery_worker", ["filesystem", "redis"], indirect=True)
def test_a_task_round_trips_through_a_real_worker(celery_worker):
    result = ping.delay()
    assert result.get(timeout=20) == "pong"
    # the answer came from the subprocess, not from this one
    assert "core.ping" in celery_worker.log()
    assert "succeeded" in celery_worker.log()
