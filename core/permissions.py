from rest_framework.permissions import BasePermission, DjangoModelPermissions

# Held by the staff roles' groups (people.roles): front desk, clinician, clinic admin.
STAFF_PERMISSIONS = ("people.use_front_desk", "people.use_clinical", "people.manage_clinic")


class IsStaff(BasePermission):
    """A member of the clinic's staff (any staff role), or a superuser; never a patient."""

    message = "Only the clinic's staff may see this."

    def has_permission(self, request, view) -> bool:
        user = request.user
        return bool(
            user
            and user.is_authenticated
            and (user.is_superuser or any(user.has_perm(p) for p in STAFF_PERMISSIONS))
        )


class ModelPermissions(DjangoModelPermissions):
    """Django's model permissions for the API, reads included (DRF lets any reader through)."""

    perms_map = {
        **DjangoModelPermissions.perms_map,
        "GET": ["%(app_label)s.view_%(model_name)s"],
        "HEAD": ["%(app_label)s.view_%(model_name)s"],
    }
