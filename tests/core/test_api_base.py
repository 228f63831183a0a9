from django.core import mail
from django.urls import reverse


def test_schema_and_docs_need_a_login(client, clinician_user):
    assert client.get(reverse("api_schema")).status_code == 401
    client.force_login(clinician_user)
    schema = client.get(
        reverse("api_schema"), headers={"Accept": "application/vnd.oai.openapi+json"}
    )
    assert schema.status_code == 200
    assert "/api/patients/" in schema.json()["paths"]
    docs = client.get(reverse("api_docs"))
    assert docs.status_code == 200
    assert b"swagger-ui" in docs.content


def test_token_authentication(client, clinician_user, bob):
    response = client.post(
        reverse("api_token"),
        {"username": clinician_user.username, "password": "correct-horse-battery"},
    )
    token = response.json()["token"]
    api = client.get(f"/api/patients/{bob.pk}/", headers={"Authorization": f"Token {token}"})
    assert api.status_code == 200
    assert api.json()["last_name"] == "Mulder"
    assert client.get("/api/patients/", headers={"Authorization": "Token nope"}).status_code == 401


def test_password_reset_gives_the_same_answer_for_unknown_addresses(client, alice):
    known = client.post(reverse("password_reset"), {"email": alice.user.email})
    unknown = client.post(reverse("password_reset"), {"email": "nobody@example.com"})
    assert known.status_code == unknown.status_code == 302
    assert known.url == unknown.url
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == [alice.user.email]
    assert "/accounts/reset/" in mail.outbox[0].body


def test_schema_and_docs_are_for_staff_only(client, alice, front_desk_user):
    client.force_login(alice.user)
    assert client.get(reverse("api_schema")).status_code == 403
    assert client.get(reverse("api_docs")).status_code == 403
    client.force_login(front_desk_user)
    assert client.get(reverse("api_schema")).status_code == 200
