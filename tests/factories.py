from __future__ import annotations

import datetime
import functools

import factory
from django.contrib.auth import get_user_model

from people.models import Patient
from people.roles import Role, assign_role

PASSWORD = "correct-horse-battery"


# The named test patients (conftest's alice and bob). Many tests check that a page does not
# show them; a random staff "Jane Smith" in a page header would read as "Smit" leaking.
NAMED_PATIENTS = ("Alice", "Smit", "Bob", "Mulder")


def _unlike_named_patients(kind: str):
    """A Faker name of `kind` that neither contains nor is contained in a named patient's."""
    faker = factory.Faker._get_faker()

    def pick(_):
        while True:
            name = getattr(faker, kind)()
            if not any(n in name or name in n for n in NAMED_PATIENTS):
                return name

    return factory.LazyAttribute(pick)


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    first_name = _unlike_named_patients("first_name")
    last_name = _unlike_named_patients("last_name")
    email = factory.LazyAttribute(lambda user: f"{user.username}@example.com")
    password = factory.django.Password(PASSWORD)


class StaffFactory(UserFactory):
    """A staff user; `role` is a Role value such as "Clinician"."""

    @factory.post_generation
    def role(user, create, extracted, **kwargs):
        if create and extracted:
            assign_role(user, Role(extracted))


class PatientFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Patient
        skip_postgeneration_save = True

    first_name = _unlike_named_patients("first_name")
    last_name = _unlike_named_patients("last_name")
    date_of_birth = factory.Faker(
        "date_between", start_date=datetime.date(1950, 1, 1), end_date=datetime.date(2005, 12, 31)
    )
    email = factory.LazyAttribute(
        lambda p: f"{p.first_name.lower()}.{p.last_name.lower()}@example.com"
    )
    phone = factory.Sequence(lambda n: f"+31 6 {n:08d}")

    @factory.post_generation
    def consents(patient, create, extracted, **kwargs):
        """Signed consent forms for every treatment, so that the patient's courses can be
        treated (treatments/gate.py); `consents=False` for a patient who has signed nothing."""
        if create and extracted is not False:
            sign_every_consent(patient)

    @factory.post_generation
    def with_account(patient, create, extracted, **kwargs):
        if create and extracted:
            user = UserFactory(
                username=patient.first_name.lower(),
                first_name=patient.first_name,
                last_name=patient.last_name,
                email=patient.email,
            )
            assign_role(user, Role.PATIENT)
            patient.user = user
            patient.save(update_fields=["user"])


@functools.cache
def signature_png() -> bytes:
    """A small drawn signature: a dark stroke on a transparent canvas."""
    import io

    from PIL import Image, ImageDraw

    image = Image.new("RGBA", (300, 100), (0, 0, 0, 0))
    ImageDraw.Draw(image).line([(20, 70), (90, 20), (160, 80), (280, 30)], fill="#111", width=4)
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def sign_every_consent(patient) -> None:
    """The current version of every consent form signed at the desk's tablet, in one insert
    (no audit events: the arranged past, as tests/records.py arranges completed sessions)."""
    from treatments.models import ConsentSignature, ConsentVersion

    current = {}
    for version in ConsentVersion.objects.order_by("form_id", "number"):
        current[version.form_id] = version
    png = signature_png()
    ConsentSignature.objects.bulk_create(
        ConsentSignature(
            patient=patient,
            version=version,
            signed_name=f"{patient.first_name} {patient.last_name}",
            signature_png=png,
            place=ConsentSignature.Place.TABLET,
        )
        for version in current.values()
    )
