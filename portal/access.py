from __future__ import annotations

from contextlib import suppress
from functools import wraps

from django.core.exceptions import PermissionDenied

from core.decorators import role_required
from people.models import Patient
from people.records import record_page

# Which patient record the account is linked to, kept in the session once known. The session
# lives on the server; the kept id is only a hint, checked against the record it names.
PATIENT_IN_SESSION = "portal_patient_id"


def own_patient(user) -> Patient:
    try:
        return Patient.objects.get(user=user)
    except Patient.DoesNotExist:
        raise PermissionDenied("This account is not linked to a patient record.") from None


def patient_required(view):
    """A portal view for a signed-in patient; the view receives their own Patient record.

    The patient always comes from the account, never from the URL, so no id can reach
    someone else's record.
    """

    @role_required("people.use_portal")
    @wraps(view)
    def wrapper(request, *args, **kwargs):
        return view(request, own_patient(request.user), *args, **kwargs)

    return wrapper


def own_record_page(request, name: str, *vary, draw):
    """`people.records.record_page` for the signed-in patient's own record: their Patient and
    the drawn part, reading no row when both are kept (with a shared cache).

    The record's id comes from the session, where the first look put it. A kept row is current
    (it is kept under the record's token, which linking the account elsewhere renews), and a
    row read from the database must still name this account; if it does not, the account was
    linked to another record since, and the link is read again.
    """
    user = request.user
    patient_id = request.session.get(PATIENT_IN_SESSION)
    if patient_id is not None:
        with suppress(Patient.DoesNotExist):
            return record_page(
                name,
                patient_id,
                *vary,
                load=lambda: Patient.objects.get(pk=patient_id, user=user),
                draw=draw,
            )
    patient = own_patient(user)
    request.session[PATIENT_IN_SESSION] = patient.pk
    return record_page(name, patient.pk, *vary, load=lambda: patient, draw=draw)
