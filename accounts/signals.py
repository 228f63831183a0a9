from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth.signals import user_logged_in
from django.db.models.signals import m2m_changed, post_delete, post_save, pre_save
from django.dispatch import receiver
from django_otp.plugins.otp_totp.models import TOTPDevice
from knox.models import get_token_model

from .sessions import LOGIN_AT, OTP_PENDING, SEEN_AT, needs_second_factor, now_ts

User = get_user_model()


@receiver(user_logged_in, dispatch_uid="accounts.stamp_session")
def _stamp_session(sender, request, user, **kwargs) -> None:
    """A new session (Django cycles the key at sign-in) learns when it began."""
    session = getattr(request, "session", None)
    if session is None:
        return
    session[LOGIN_AT] = session[SEEN_AT] = now_ts()
    pending = needs_second_factor(user)
    if pending:
        session[OTP_PENDING] = pending
    else:
        session.pop(OTP_PENDING, None)


# --- API tokens end with what they were issued on --------------------------------------------
# A token stands for a password (and second factor) and for the access the account had when it
# was issued. These receivers end every token of an account whenever any of that changes, by
# whichever path: admin, services, shell or a data migration, so no view has to remember to.

# The fields of the account a token depends on.
TOKEN_BASIS_FIELDS = ("password", "is_active", "is_superuser", "is_staff")


def tokens_revoke(*, user_ids) -> None:
    get_token_model().objects.filter(user_id__in=list(user_ids)).delete()


@receiver(pre_save, sender=User, dispatch_uid="accounts.token_basis_before")
def _note_token_basis_change(sender, instance, update_fields=None, raw=False, **kwargs) -> None:
    if raw or instance.pk is None:
        return
    fields = TOKEN_BASIS_FIELDS
    if update_fields is not None:
        fields = tuple(f for f in fields if f in update_fields)
        if not fields:  # e.g. last_login at sign-in: no reason to read the row
            return
    before = sender.objects.filter(pk=instance.pk).values(*fields).first()
    instance._token_basis_changed = before is not None and any(
        before[f] != getattr(instance, f) for f in fields
    )


@receiver(post_save, sender=User, dispatch_uid="accounts.token_basis_after")
def _revoke_on_account_change(sender, instance, created=False, **kwargs) -> None:
    if getattr(instance, "_token_basis_changed", False):
        instance._token_basis_changed = False
        tokens_revoke(user_ids=[instance.pk])


def _revoke_on_access_change(sender, instance, action, reverse, pk_set, **kwargs) -> None:
    """A role (group) or a permission given to or taken from an account, from either side."""
    if action == "pre_clear" and reverse:
        # From the group's side: the members are about to be unknown.
        instance._members_before_clear = list(instance.user_set.values_list("pk", flat=True))
        return
    if action not in ("post_add", "post_remove", "post_clear"):
        return
    if not reverse:
        tokens_revoke(user_ids=[instance.pk])
    elif action == "post_clear":
        tokens_revoke(user_ids=getattr(instance, "_members_before_clear", ()))
    else:
        tokens_revoke(user_ids=pk_set or ())


m2m_changed.connect(
    _revoke_on_access_change, sender=User.groups.through, dispatch_uid="accounts.groups_tokens"
)
m2m_changed.connect(
    _revoke_on_access_change,
    sender=User.user_permissions.through,
    dispatch_uid="accounts.permissions_tokens",
)


@receiver(pre_save, sender=TOTPDevice, dispatch_uid="accounts.device_before")
def _note_device_confirmed(sender, instance, update_fields=None, raw=False, **kwargs) -> None:
    # Every code checked saves the device (its last step, its throttle): only a device becoming
    # confirmed matters here.
    if raw or (update_fields is not None and "confirmed" not in update_fields):
        return
    before = sender.objects.filter(pk=instance.pk).values_list("confirmed", flat=True).first()
    instance._newly_confirmed = instance.confirmed and not before


@receiver(post_save, sender=TOTPDevice, dispatch_uid="accounts.device_tokens")
@receiver(post_delete, sender=TOTPDevice, dispatch_uid="accounts.device_gone_tokens")
def _revoke_on_second_factor_change(sender, instance, **kwargs) -> None:
    """Tokens taken with the password alone end once a second factor is set up; tokens taken
    with one end when it is removed."""
    changed = kwargs.get("signal") is post_delete and instance.confirmed
    if changed or getattr(instance, "_newly_confirmed", False):
        instance._newly_confirmed = False
        tokens_revoke(user_ids=[instance.user_id])
