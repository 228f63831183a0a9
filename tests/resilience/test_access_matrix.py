"""Every URL and every API operation, for every role, with the ids of Alice's records.

The URLs come from Django's resolver and the operations from the OpenAPI schema, so a new
URL or operation without a row in the tables below fails the test ("unclassified"), and a row
whose URL is gone fails it too ("stale"). Each cell is what that role must get:

    ok  - served (2xx, a redirect that is not to the sign-in page, or a 400/405/415 answer to
          the empty form/body this test sends): the role may use this URL on Alice's record
    --  - refused: 401, 403, 404 or a redirect to sign in, and nothing of Alice (name, email,
          date of birth, phone) in the body

Roles: fd = front desk, cl = clinician, ad = clinic admin, alice = Alice (the records are
hers), bob = another patient, anon = not signed in. Every URL is requested with GET and with
POST (an empty form); API operations with their own method and an empty body. No answer may
be a 500.

Every answer is audited too (`audited` below): an allowed answer that shows Alice's data
(her name, email, date of birth or phone in the body, or a 2xx answer to a URL naming one of
her records) must have left an allowed view event naming her, and every 401/403/404 a refused
event (allowed=False), both written by that very request.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import pytest
from django.conf import settings
from django.shortcuts import resolve_url
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver

ROLES = ("fd", "cl", "ad", "alice", "bob", "anon")
# Patients first: a clinician's empty POST to "release" withdraws the release Alice relies on.
REQUEST_ORDER = ("anon", "bob", "alice", "fd", "cl", "ad")

# Pages. logout is "--" for all: it ends at the sign-in page. The API schema and its docs hold
# no patient data but map every operation: staff only.
PAGES = """
# name                         fd  cl  ad  alice bob anon
admin_home                     --  --  ok  --    --  --
calendar_feed_renew            --  ok  --  --    --  --
api_docs                       ok  ok  ok  --    --  --
api_schema                     ok  ok  ok  --    --  --
audit:audit_list               --  --  ok  --    --  --
clinical_home                  --  ok  --  --    --  --
desk_home                      ok  ok  --  --    --  --
health                         ok  ok  ok  --    --  --
home                           ok  ok  ok  ok    ok  --
invite_accept                  ok  ok  ok  ok    ok  ok
liveness                       ok  ok  ok  ok    ok  ok
login                          ok  ok  ok  ok    ok  ok
logout                         --  --  --  --    --  --
otp_enrol                      ok  ok  ok  ok    ok  --
outbox                         ok  --  --  --    --  --
outbox_retry                   ok  --  --  --    --  --
otp_verify                     ok  ok  ok  ok    ok  --
password_change                ok  ok  ok  ok    ok  --
password_change_done           ok  ok  ok  ok    ok  --
password_reset                 ok  ok  ok  ok    ok  ok
password_reset_complete        ok  ok  ok  ok    ok  ok
password_reset_confirm         ok  ok  ok  ok    ok  ok
password_reset_done            ok  ok  ok  ok    ok  ok
people:patient_create          ok  --  ok  --    --  --
people:patient_detail          ok  ok  ok  --    --  --
people:patient_edit            ok  ok  ok  --    --  --
people:patient_invite          ok  --  ok  --    --  --
people:patient_list            ok  ok  ok  --    --  --
# Merging duplicates: a clinic admin, or a desk lead given the permission (not in this grid).
people:patient_merge           --  --  ok  --    --  --
# The patient's own data, produced by the clinic; erasure (refused here: retention runs on).
people:patient_export          --  --  ok  --    --  --
people:patient_export_download --  --  ok  --    --  --
people:patient_erase           --  --  ok  --    --  --
photos:comparison              --  ok  --  --    --  --
photos:comparison_align        --  ok  --  --    --  --
photos:comparison_release      --  ok  --  --    --  --
photos:course_sheet            --  ok  --  --    --  --
photos:course_sheet_file       --  ok  --  --    --  --
photos:course_sheet_new        --  ok  --  --    --  --
photos:image                   --  ok  --  ok    --  --
photos:mine                    --  --  --  ok    ok  --
photos:photo                   --  ok  --  --    --  --
photos:photo_reference         --  ok  --  --    --  --
photos:photo_regions           --  ok  --  --    --  --
photos:session                 --  ok  --  --    --  --
photos:sheet                   --  ok  --  ok    --  --
photos:timeline                --  ok  --  --    --  --
# Online booking: Bob's own page and consultation; Alice's sessions are hers alone.
portal:book                    --  --  --  ok    ok  --
portal:book_consultation       --  --  --  ok    ok  --
portal:book_session            --  --  --  ok    --  --
portal:calendar                --  --  --  ok    ok  --
# Consent forms: any patient reads and signs a modality's form and keeps their own photo
# consent; a signed form's PDF is its patient's alone.
portal:consent_pdf             --  --  --  ok    --  --
portal:consent_sign            --  --  --  ok    ok  --
portal:consents                --  --  --  ok    ok  --
portal:photo_consent           --  --  --  ok    ok  --
portal:comparison              --  --  --  ok    --  --
portal:history                 --  --  --  ok    ok  --
portal:my_data                 --  --  --  ok    ok  --
portal:my_data_download        --  --  --  ok    --  --
portal:reminders               --  --  --  ok    ok  --
portal:home                    --  --  --  ok    ok  --
# Each patient's own questionnaire: the URL has no id, the account says whose.
portal:intake                  --  --  --  ok    ok  --
portal:photos                  --  --  --  ok    ok  --
portal:session                 --  --  --  ok    --  --
portal:session_cancel          --  --  --  ok    --  --
portal:session_change          --  --  --  ok    --  --
# Alice's session here has no booked time: her check page says there is nothing to answer.
portal:session_check           --  --  --  ok    --  --
# Withdraws Alice's own open request; Bob's try finds no such session of his.
portal:request_withdraw        --  --  --  ok    --  --
portal:session_move            --  --  --  ok    --  --
portal:session_waitlist        --  --  --  ok    --  --
portal:session_waitlist_withdraw --  --  --  ok    --  --
# Alice's session here has no booked time, so there is no .ics of it for anyone.
portal:session_ics             --  --  --  --    --  --
practitioner_feed              --  --  --  --    --  --
readiness                      ok  ok  ok  ok    ok  ok
# Aggregate figures: the clinic admin and the desk lead (tests/reports/test_pages.py).
reports:csv                    --  --  ok  --    --  --
reports:index                  --  --  ok  --    --  --
scheduling:book_confirm        ok  --  --  --    --  --
scheduling:book_patients       ok  --  --  --    --  --
scheduling:book_start          ok  --  --  --    --  --
scheduling:arrival_undo        ok  ok  --  --    --  --
scheduling:check_in            ok  ok  --  --    --  --
scheduling:consultation_new    ok  --  --  --    --  --
scheduling:course_book         ok  --  --  --    --  --
scheduling:course_propose      ok  --  --  --    --  --
scheduling:flagged             ok  --  --  --    --  --
scheduling:inbox               ok  --  --  --    --  --
scheduling:inbox_count         ok  --  --  --    --  --
scheduling:inbox_mark          ok  --  --  --    --  --
scheduling:no_show             ok  --  --  --    --  --
scheduling:request_handle      ok  --  --  --    --  --
scheduling:session             ok  ok  --  --    --  --
scheduling:session_cancel      ok  --  --  --    --  --
scheduling:session_move        ok  --  --  --    --  --
scheduling:session_slots       ok  --  --  --    --  --
scheduling:today               ok  ok  --  --    --  --
scheduling:week                ok  ok  --  --    --  --
scheduling:waitlist            ok  --  --  --    --  --
scheduling:waitlist_add        ok  --  --  --    --  --
scheduling:waitlist_remove     ok  --  --  --    --  --
# The public sign-up: open to all; a link not signed here (the test's) opens nothing.
signup                         ok  ok  ok  ok    ok  ok
signup_sent                    ok  ok  ok  ok    ok  ok
signup_verify                  ok  ok  ok  ok    ok  ok
treatments:chart               ok  ok  ok  --    --  --
treatments:consent_pdf         ok  ok  ok  --    --  --
treatments:consent_tablet      ok  ok  ok  --    --  --
treatments:history_create      --  ok  ok  --    --  --
treatments:history_edit        --  ok  ok  --    --  --
# What a patient reported is confirmed or corrected by a clinician, at the point of care.
treatments:history_confirm     --  ok  --  --    --  --
treatments:history_correct     --  ok  --  --    --  --
treatments:intake_confirm      --  ok  --  --    --  --
treatments:plan_confirm        --  ok  --  --    --  --
treatments:plan_create         --  ok  ok  --    --  --
treatments:plan_detail         ok  ok  ok  --    --  --
treatments:patient_consents    ok  ok  ok  --    --  --
treatments:screening_detail    --  ok  ok  --    --  --
treatments:screening_override  --  ok  --  --    --  --
treatments:session_detail      ok  ok  ok  --    --  --
treatments:session_level       --  ok  ok  --    --  --
treatments:session_record      --  ok  --  --    --  --
treatments:session_screen      --  ok  --  --    --  --
# A waiting-list offer's link is its own key: a token not signed here reaches nothing.
waitlist_offer                 --  --  --  --    --  --
# So is a reminder's link; one not signed here gets a 400 page that names no one.
reminder_link                  ok  ok  ok  ok    ok  ok
"""

# API operations. Patients have no API: their file is reached through the portal pages.
API = """
# METHOD path                                  fd  cl  ad  alice bob anon
POST   /api/auth/token/                       ok  ok  ok  ok    ok  ok
# Ends the token the request is signed with: a session alone reaches nothing there.
POST   /api/auth/token/revoke/                --  --  --  --    --  --
GET    /api/body-areas/                       ok  ok  ok  --    --  --
GET    /api/body-areas/{id}/                  ok  ok  ok  --    --  --
GET    /api/booking/availability/             ok  --  --  --    --  --
POST   /api/booking/plans/{plan_id}/book/     ok  --  --  --    --  --
POST   /api/booking/sessions/{id}/book/       ok  --  --  --    --  --
POST   /api/booking/sessions/{id}/cancel/     ok  --  --  --    --  --
POST   /api/booking/sessions/{id}/reschedule/ ok  --  --  --    --  --
GET    /api/comparisons/                      --  ok  --  --    --  --
POST   /api/comparisons/propose/              --  ok  --  --    --  --
GET    /api/comparisons/{id}/                 --  ok  --  --    --  --
GET    /api/comparisons/{id}/sheet/{fmt}/     --  ok  --  --    --  --
PATCH  /api/comparisons/{id}/                 --  ok  --  --    --  --
GET    /api/consent-signatures/               ok  ok  ok  --    --  --
GET    /api/consent-signatures/{id}/          ok  ok  ok  --    --  --
GET    /api/history/                          --  ok  ok  --    --  --
POST   /api/history/                          --  ok  ok  --    --  --
GET    /api/history/{id}/                     --  ok  ok  --    --  --
PATCH  /api/history/{id}/                     --  ok  ok  --    --  --
PUT    /api/history/{id}/                     --  ok  ok  --    --  --
GET    /api/indications/                      ok  ok  ok  --    --  --
GET    /api/indications/{id}/                 ok  ok  ok  --    --  --
GET    /api/modalities/                       ok  ok  ok  --    --  --
GET    /api/modalities/{id}/                  ok  ok  ok  --    --  --
GET    /api/patients/                         ok  ok  ok  --    --  --
POST   /api/patients/                         ok  --  ok  --    --  --
GET    /api/patients/{id}/                    ok  ok  ok  --    --  --
PATCH  /api/patients/{id}/                    ok  ok  ok  --    --  --
PUT    /api/patients/{id}/                    ok  ok  ok  --    --  --
GET    /api/photos/                           --  ok  --  --    --  --
POST   /api/photos/                           --  ok  --  --    --  --
GET    /api/photos/{id}/                      --  ok  --  --    --  --
GET    /api/photos/{id}/consent/              --  ok  --  --    --  --
PUT    /api/photos/{id}/consent/              --  ok  --  --    --  --
GET    /api/photos/{id}/image/{variant}/      --  ok  --  --    --  --
GET    /api/photo-consents/                   ok  ok  ok  --    --  --
POST   /api/photo-consents/                   ok  ok  ok  --    --  --
GET    /api/photo-consents/{id}/              ok  ok  ok  --    --  --
GET    /api/plans/                            ok  ok  ok  --    --  --
POST   /api/plans/                            --  ok  ok  --    --  --
GET    /api/plans/{id}/                       ok  ok  ok  --    --  --
GET    /api/screening-factors/                ok  ok  ok  --    --  --
GET    /api/screening-factors/{id}/           ok  ok  ok  --    --  --
GET    /api/screening-rules/                  ok  ok  ok  --    --  --
GET    /api/screening-rules/{id}/             ok  ok  ok  --    --  --
GET    /api/screenings/                       --  ok  ok  --    --  --
GET    /api/screenings/{id}/                  --  ok  ok  --    --  --
POST   /api/screenings/{id}/override/         --  ok  --  --    --  --
GET    /api/sessions/                         ok  ok  ok  --    --  --
GET    /api/sessions/{id}/                    ok  ok  ok  --    --  --
GET    /api/sessions/{id}/aftercare/          ok  ok  ok  --    --  --
POST   /api/sessions/{id}/record/             --  ok  --  --    --  --
POST   /api/sessions/{id}/screen/             --  ok  --  --    --  --
"""


def parse(table: str) -> dict[str, dict[str, str]]:
    rows = {}
    for line in table.strip().splitlines():
        if line.startswith("#"):
            continue
        *key, fd, cl, ad, alice, bob, anon = line.split()
        rows[" ".join(key)] = dict(zip(ROLES, (fd, cl, ad, alice, bob, anon), strict=True))
    return rows


def named_patterns(patterns=None, prefix: str = "", namespace: str | None = None):
    """(name, route) of every named page URL; the admin and the API (from the schema) aside."""
    for pattern in get_resolver().url_patterns if patterns is None else patterns:
        route = prefix + str(pattern.pattern)
        if isinstance(pattern, URLResolver):
            ns = pattern.namespace
            inner = f"{namespace}:{ns}" if namespace and ns else (ns or namespace)
            yield from named_patterns(pattern.url_patterns, route, inner)
        elif isinstance(pattern, URLPattern) and pattern.name:
            if route.startswith(("admin/", "api/")) and route not in ("api/schema/", "api/docs/"):
                continue
            yield (f"{namespace}:{pattern.name}" if namespace else pattern.name), route


def schema_operations() -> list[tuple[str, str]]:
    from drf_spectacular.generators import SchemaGenerator

    schema = SchemaGenerator().get_schema(request=None, public=True)
    return [
        (method.upper(), path)
        for path, operations in schema["paths"].items()
        for method in operations
        if method in ("get", "post", "put", "patch", "delete")
    ]


def fill(route: str, ids: dict[str, object]) -> str:
    """A concrete path for a route: every parameter becomes the id of Alice's object."""

    def value(match: re.Match) -> str:
        return str(ids[match.group("name")])

    route = re.sub(r"<(?:\w+:)?(?P<name>\w+)>", value, route)
    return "/" + re.sub(r"\{(?P<name>\w+)\}", value, route).lstrip("/")


def page_ids(f) -> dict[str, object]:
    from core.models import OutboxMessage

    failed = OutboxMessage.objects.create(
        kind="email", summary="Your booking", payload={}, status="failed"
    )
    from scheduling.models import WaitlistEntry

    waiting = WaitlistEntry.objects.create(session=f.session, patient=f.patient)
    from django.core.files.base import ContentFile
    from django.core.files.storage import default_storage

    from photos.models import CourseSheet

    course_sheet = CourseSheet.objects.create(
        plan=f.plan,
        body_area=f.photo.body_area,
        view=f.photo.view,
        requested_by=f.photo.uploaded_by,
        sheet_status="ready",
        sheet_pdf_key=default_storage.save("photos/course-sheets/m.pdf", ContentFile(b"%PDF")),
        sheet_jpeg_key=default_storage.save("photos/course-sheets/m.jpg", ContentFile(b"\xff")),
    )
    from tests.portal.test_access import ready_export

    return {
        "export_id": ready_export(f.patient).pk,
        "sheet_id": course_sheet.pk,
        "message_id": failed.pk,
        "waitlist_id": waiting.pk,
        "patient_id": f.patient.pk,
        "plan_id": f.plan.pk,
        "session_id": f.session.pk,
        "screening_id": f.screening.pk,
        "entry_id": f.history.pk,
        "photo_id": f.photo.pk,
        "comparison_id": f.comparison.pk,
        "signature_id": f.patient.consent_signatures.first().pk,
        "modality_id": f.plan.modality_id,
        "variant": "screen",
        "fmt": "pdf",
        "report": "attendance",
        "token": "not-a-token",
        "uidb64": "MQ",
    }


def _photo_consent(patient):
    from treatments.models import PhotoConsent

    return PhotoConsent.objects.filter(patient=patient).first() or PhotoConsent.objects.create(
        patient=patient, clinical=True, source=PhotoConsent.Source.STAFF
    )


def api_ids(path: str, f) -> dict[str, object]:
    by_prefix = {
        "/api/patients/": f.patient.pk,
        "/api/plans/": f.plan.pk,
        "/api/sessions/": f.session.pk,
        "/api/booking/sessions/": f.session.pk,
        "/api/screenings/": f.screening.pk,
        "/api/history/": f.history.pk,
        "/api/photos/": f.photo.pk,
        "/api/comparisons/": f.comparison.pk,
        "/api/consent-signatures/": f.patient.consent_signatures.first().pk,
        "/api/photo-consents/": _photo_consent(f.patient).pk,
    }
    pk = next((v for prefix, v in by_prefix.items() if path.startswith(prefix)), None)
    if pk is None:  # the catalogue: any row
        from treatments.models import BodyArea, Factor, Indication, Modality, ScreeningRule

        model = {
            "/api/body-areas/": BodyArea,
            "/api/indications/": Indication,
            "/api/modalities/": Modality,
            "/api/screening-factors/": Factor,
            "/api/screening-rules/": ScreeningRule,
        }
        pk = next((m.objects.first().pk for p, m in model.items() if path.startswith(p)), 0)
    return {"id": pk, "plan_id": f.plan.pk, "variant": "screen", "fmt": "pdf"}


def outcome(response) -> str | None:
    status = response.status_code
    assert status < 500, f"{status} server error"
    if status == 405:
        return None  # says nothing about access: the other method decides
    if status in (401, 403, 404):
        return "--"
    if status in (301, 302, 303, 307, 308):
        login = resolve_url(settings.LOGIN_URL)
        return "--" if response["Location"].split("?")[0] == login else "ok"
    return "ok"


def body_of(response) -> str:
    if getattr(response, "streaming", False):
        return b"".join(response.streaming_content).decode(errors="replace")
    return response.content.decode(errors="replace")


@pytest.fixture
def clients(persona, alice_file):
    def make(role: str) -> Client:
        client = Client()
        client.user = None
        if role != "anon":
            client.user = persona(
                {"fd": "front_desk", "cl": "clinician", "ad": "admin"}.get(role, role)
            )
        return client

    return make


# Route parameters that are not one of Alice's records.
NOT_RECORDS = {"token", "uidb64", "variant", "fmt", "report", "modality_id"}
# API paths whose answers hold patient data (the rest is the catalogue, tokens, the schema).
API_PATIENT_PREFIXES = (
    "/api/patients/",
    "/api/plans/",
    "/api/sessions/",
    "/api/booking/",
    "/api/screenings/",
    "/api/history/",
    "/api/photos/",
    "/api/comparisons/",
    "/api/consent-signatures/",
    "/api/photo-consents/",
)


@dataclass
class AuditTally:
    looks: int = 0
    looks_recorded: int = 0
    refusals: int = 0
    refusals_recorded: int = 0
    missing: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        return (
            f"looks at Alice's data {self.looks}, with an event {self.looks_recorded}; "
            f"refusals {self.refusals}, with an event {self.refusals_recorded}"
        )


def last_event_id() -> int:
    from audit.models import AuditEvent

    return AuditEvent.objects.order_by("-id").values_list("id", flat=True).first() or 0


def audited(tally, what, response, body, *, shows_alice, alice, since):
    """Checks the request that gave `response` left the audit event its answer calls for."""
    from audit.models import AuditEvent

    events = AuditEvent.objects.filter(pk__gt=since)
    if response.status_code in (401, 403, 404):
        tally.refusals += 1
        if events.filter(allowed=False).exists():
            tally.refusals_recorded += 1
        else:
            tally.missing.append(f"{what}: refused ({response.status_code}) without an event")
    elif response.status_code < 300 and shows_alice(body):
        tally.looks += 1
        if events.filter(allowed=True, patient_id=alice.pk).exists():
            tally.looks_recorded += 1
        else:
            tally.missing.append(f"{what}: showed Alice's data without an event naming her")


def check(grid_name, expected, observed, leaks):
    unclassified = sorted(set(observed) - set(expected))
    stale = sorted(set(expected) - set(observed))
    wrong = [
        f"{key} {role}: expected {expected[key][role]} got {got}"
        for key, cells in sorted(observed.items())
        if key in expected
        for role, got in cells.items()
        if got != expected[key][role]
    ]
    report = "\n".join(
        [
            f"unclassified {grid_name}: {k}  {'  '.join(observed[k][r] for r in ROLES)}"
            for k in unclassified
        ]
        + [f"stale {grid_name} row: {k}" for k in stale]
        + wrong
        + leaks
    )
    assert not report, report


def shows(secret: str, body: str) -> bool:
    """Whether the answer shows the secret as a whole word: staff names are random, and a
    signed-in "Jane Smith" in the header is not Alice Smit's name leaking."""
    return re.search(rf"(?<!\w){re.escape(secret)}(?!\w)", body) is not None


def test_a_secret_is_found_as_a_word_not_inside_another():
    assert shows("Smit", "<p>Alice Smit</p>") and shows("Smit", "Smit, Alice")
    assert not shows("Smit", '<span class="who">Jane Smith</span>')
    assert shows("alice.smit@example.com", "mail alice.smit@example.com now")
    assert shows("1990-01-02", "born 1990-01-02.") and shows("+31 6 00000001", ">+31 6 00000001<")


def test_every_page_for_every_role(clients, alice_file):
    ids = page_ids(alice_file)
    routes = dict(named_patterns())
    observed: dict[str, dict[str, str]] = {name: {} for name in routes}
    leaks: list[str] = []
    tally = AuditTally()
    for role in REQUEST_ORDER:
        client = clients(role)
        for name, route in sorted(routes.items()):
            path = fill(route, ids)
            names_record = bool(set(re.findall(r"<(?:\w+:)?(\w+)>", route)) - NOT_RECORDS)
            results = []
            for method in ("get", "post"):
                if client.user is not None and "_auth_user_id" not in client.session:
                    client.force_login(client.user)  # again after a POST that signed out
                since = last_event_id()
                response = getattr(client, method)(path)
                try:
                    results.append(outcome(response))
                except AssertionError as error:
                    raise AssertionError(f"{method.upper()} {path} as {role}: {error}") from None
                body = body_of(response)
                if results[-1] == "--" and role != "alice":  # her own name is in her header
                    leaks += [
                        f"{name} {role} {method}: {secret!r} in a refused answer"
                        for secret in alice_file.secrets
                        if shows(secret, body)
                    ]

                def shows_alice(
                    body, role=role, method=method, names_record=names_record, name=name
                ):
                    if method == "get" and names_record:
                        return True
                    if role == "alice":  # her own name is in her header on every page
                        return name.startswith(("portal:", "photos:"))
                    return any(shows(secret, body) for secret in alice_file.secrets)

                audited(
                    tally,
                    f"{method.upper()} {name} as {role}",
                    response,
                    body,
                    shows_alice=shows_alice,
                    alice=alice_file.patient,
                    since=since,
                )
            observed[name][role] = "--" if "--" in results else "ok"
    print(f"pages: {tally}")
    check("page", parse(PAGES), observed, leaks + tally.missing)


def test_every_api_operation_for_every_role(clients, alice_file):
    operations = schema_operations()
    observed: dict[str, dict[str, str]] = {f"{m} {p}": {} for m, p in operations}
    leaks: list[str] = []
    tally = AuditTally()
    for role in REQUEST_ORDER:
        client = clients(role)
        for method, route in operations:
            if client.user is not None and "_auth_user_id" not in client.session:
                client.force_login(client.user)
            path = fill(route, api_ids(route, alice_file))
            since = last_event_id()
            if method in ("PUT", "PATCH"):
                response = client.generic(method, path, "{}", content_type="application/json")
            else:
                response = getattr(client, method.lower())(path)
            key = f"{method} {route}"
            try:
                observed[key][role] = outcome(response) or "ok"
            except AssertionError as error:
                raise AssertionError(f"{key} as {role}: {error}") from None
            body = body_of(response)
            if observed[key][role] == "--" and role != "alice":
                leaks += [
                    f"{key} {role}: {secret!r} in a refused answer"
                    for secret in alice_file.secrets
                    if shows(secret, body)
                ]
            audited(
                tally,
                f"{key} as {role}",
                response,
                body,
                shows_alice=lambda body, route=route: (
                    route.startswith(API_PATIENT_PREFIXES)
                    or any(shows(secret, body) for secret in alice_file.secrets)
                ),
                alice=alice_file.patient,
                since=since,
            )
    print(f"operations: {tally}")
    check("operation", parse(API), observed, leaks + tally.missing)


@pytest.fixture
def cache_server_down(settings, tmp_path):
    """Production's Redis cache, whose server has stopped."""
    from django.core.cache import cache

    from tests.resilience.redis_server import RedisServer

    server = RedisServer(tmp_path / "redis")
    server.start()
    settings.CACHES = {
        "default": {
            **settings.CACHES["default"],
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": server.url,
            "OPTIONS": {"IGNORE_EXCEPTIONS": True, "SOCKET_CONNECT_TIMEOUT": 0.5},
        }
    }
    cache.set("alive", 1)
    assert cache.get("alive") == 1  # the cache really is that server
    server.stop()
    assert cache.get("alive") is None
    return server


@pytest.mark.redis
def test_every_page_answers_as_usual_with_the_cache_server_down(
    cache_server_down, clients, alice_file
):
    test_every_page_for_every_role(clients, alice_file)


@pytest.mark.redis
def test_every_api_operation_answers_as_usual_with_the_cache_server_down(
    cache_server_down, clients, alice_file
):
    test_every_api_operation_for_every_role(clients, alice_file)
