import pytest
from django.urls import reverse

from clinic.celery import app
from tests.services import celery_configured


def test_liveness_answers_anyone(client):
    response = client.get(reverse("liveness"))
    assert response.status_code == 200
    assert response.content == b"ok"


def test_health_needs_a_staff_login(client, alice):
    response = client.get(reverse("health"))
    assert response.status_code == 302
    assert response.url.startswith(reverse("login"))
    client.force_login(alice.user)
    assert client.get(reverse("health")).status_code == 403


def test_health_reports_every_part_working(client, front_desk_user):
    client.force_login(front_desk_user)
    response = client.get(reverse("health"), {"format": "json"})
    assert response.status_code == 200
    checks = {check["name"]: check for check in response.json()["checks"]}
    assert set(checks) == {"database", "broker", "worker", "outbox"}
    assert all(check["ok"] for check in checks.values())


def test_health_is_red_when_no_worker_answers(client, front_desk_user, settings, tmp_path):
    settings.HEALTH_WORKER_TIMEOUT = 0.5
    folder = tmp_path / "queue"
    folder.mkdir()
    client.force_login(front_desk_user)
    with celery_configured(
        app,
        task_always_eager=False,
        broker_url="filesystem://",
        broker_transport_options={
            "data_folder_in": str(folder),
            "data_folder_out": str(folder),
            "control_folder": str(folder),
        },
        result_backend=f"file://{tmp_path}",
    ):
        response = client.get(reverse("health"))
    assert response.status_code == 503
    body = response.content.decode()
    assert "a part is down" in body
    assert "no worker answered within 0.5 s" in body


@pytest.mark.worker
def test_health_is_green_with_a_real_worker(client, front_desk_user, celery_worker):
    client.force_login(front_desk_user)
    response = client.get(reverse("health"))
    assert response.status_code == 200
    assert "all parts working" in response.content.decode()


def test_health_is_red_when_the_broker_is_unreachable(client, front_desk_user):
    client.force_login(front_desk_user)
    with celery_configured(app, task_always_eager=False, broker_url="redis://127.0.0.1:1/0"):
        response = client.get(reverse("health"), {"format": "json"})
    assert response.status_code == 503
    checks = {check["name"]: check for check in response.json()["checks"]}
    assert checks["database"]["ok"] is True
    assert checks["broker"]["ok"] is False
    assert checks["worker"]["ok"] is False
