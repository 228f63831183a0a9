from __future__ import annotations

from functools import wraps

from django.core.exceptions import PermissionDenied

from core.decorators import role_required

from .models import Patient


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
