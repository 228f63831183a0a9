"""Tampering by whoever can write the database, its owner included: the chain is keyed with a
secret that is not in the database, and its head is anchored outside it."""

from __future__ import annotations

import hashlib
import json
import logging
import uuid

import pytest
from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import storages
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import DatabaseError, connection, transaction

from audit.anchors import FOLDER, anchor_latest, anchor_write
from audit.models import GENESIS_HASH, AuditChainHead, AuditEvent
from audit.services import Action, audit_log, audit_verify
from audit.tasks import anchor_head
from tests.audit.test_chain import TABLE, _log_three, _raw

HEAD = AuditChainHead._meta.db_table


def _rehash_everything(hasher) -> None:
    """What the database's owner could do: recompute every link and the head with `hasher`."""
    prev = GENESIS_HASH
    for event in AuditEvent.objects.order_by("id"):
        event.prev_hash = prev
        new = hasher(event.canonical())
        _raw(f"UPDATE {TABLE} SET prev_hash = %s, hash = %s WHERE id = %s", [prev, new, event.pk])
        prev = new
    last = AuditEvent.objects.order_by("-id").first()
    _raw(f"UPDATE {HEAD} SET last_hash = %s, prev_hash = %s", [prev, last.prev_hash])


def test_an_edited_chain_rehashed_without_the_key_is_found(front_desk_user, alice):
    first, second, third = _log_three(front_desk_user, alice)
    _raw(f"UPDATE {TABLE} SET patient_id = %s WHERE id = %s", [999, second.pk])
    _rehash_everything(lambda data: hashlib.sha256(data).hexdigest())
    report = audit_verify()
    assert (report.ok, report.broken_at) == (False, first.pk)
    assert "changed after it was written" in report.problem


def test_an_edited_chain_rehashed_with_another_key_is_found(front_desk_user, alice, settings):
    _log_three(front_desk_user, alice)
    key = settings.AUDIT_CHAIN_KEY
    settings.AUDIT_CHAIN_KEY = "a key the attacker chose"
    _rehash_everything(lambda data: AuditEvent.compute_hash.__globals__["chain_hmac"](data))
    settings.AUDIT_CHAIN_KEY = key
    assert not audit_verify().ok


def test_the_key_comes_from_the_environment_or_else_from_secret_key():
    assert settings.AUDIT_CHAIN_KEY
    assert settings.AUDIT_CHAIN_KEY != settings.SECRET_KEY


def test_emptying_the_log_and_resetting_the_head_is_found_by_the_anchor(front_desk_user, alice):
    *_, third = _log_three(front_desk_user, alice)
    anchor = anchor_write()
    assert (anchor.event_id, anchor.hash) == (third.pk, third.hash)
    _raw(f"DELETE FROM {TABLE}")
    _raw(
        f"UPDATE {HEAD} SET last_event_id = NULL, last_hash = %s, prev_hash = %s, "
        "last_occurred_at = NULL",
        [GENESIS_HASH, GENESIS_HASH],
    )
    report = audit_verify()
    assert (report.ok, report.broken_at) == (False, third.pk)
    assert "anchored outside the database" in report.problem and "is gone" in report.problem


def test_cutting_the_newest_events_and_setting_the_head_back_is_found(front_desk_user, alice):
    first, second, third = _log_three(front_desk_user, alice)
    anchor_write()
    _raw(f"DELETE FROM {TABLE} WHERE id > %s", [first.pk])
    _raw(
        f"UPDATE {HEAD} SET last_event_id = %s, last_hash = %s, prev_hash = %s",
        [first.pk, first.hash, first.prev_hash],
    )
    report = audit_verify()
    assert not report.ok and "is gone" in report.problem


def test_events_after_the_latest_anchor_verify(front_desk_user, alice):
    _log_three(front_desk_user, alice)
    anchor_write()
    audit_log(actor=front_desk_user, action=Action.VIEW, obj=alice)
    assert audit_verify().ok


def test_an_anchor_written_without_the_key_is_refused(front_desk_user, alice):
    *_, third = _log_three(front_desk_user, alice)
    anchor_write()
    forged = {"event_id": 1, "hash": "f" * 64, "written_at": "2999-01-01", "signature": "0" * 64}
    storages["default"].save(
        f"{FOLDER}/29990101T000000000000Z-1.json", ContentFile(json.dumps(forged).encode())
    )
    report = audit_verify()
    assert not report.ok and "not signed with the chain's key" in report.problem


def test_verify_audit_anchors_the_head_in_storage_and_the_log(front_desk_user, alice, caplog):
    *_, third = _log_three(front_desk_user, alice)
    with caplog.at_level(logging.INFO, logger="audit.anchors"):
        call_command("verify_audit")
    anchor = anchor_latest()
    assert (anchor.event_id, anchor.hash) == (third.pk, third.hash)
    assert third.hash in caplog.text
    _raw(f"DELETE FROM {TABLE} WHERE id = %s", [third.pk])
    _raw(
        f"UPDATE {HEAD} SET last_event_id = %s, last_hash = %s",
        [third.pk - 1, AuditEvent.objects.get(pk=third.pk - 1).hash],
    )
    with pytest.raises(CommandError, match="is gone"):
        call_command("verify_audit")


def test_the_beat_task_anchors_the_head(front_desk_user, alice):
    assert settings.CELERY_BEAT_SCHEDULE["audit-anchor-head"]["task"] == "audit.anchor_head"
    assert anchor_head.delay().get() is None  # an empty log: nothing to anchor
    event = audit_log(actor=front_desk_user, action=Action.VIEW, obj=alice)
    assert anchor_head.delay().get() == {"event_id": event.pk, "hash": event.hash}


# --- the application's database role --------------------------------------------------------


def _as(role: str, sql: str, params=()) -> None:
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"SET LOCAL ROLE {role}")
        cursor.execute(sql, params)


@pytest.mark.postgres
def test_an_app_role_with_insert_and_select_only_cannot_change_the_log(
    postgres, front_desk_user, alice
):
    """The set-up of README "Audit log": the app's role does not own the table."""
    event = audit_log(actor=front_desk_user, action=Action.VIEW, obj=alice)
    role = f"clinic_app_{uuid.uuid4().hex[:8]}"  # created in the test's transaction: rolled back
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # no pending checks before SET ROLE
        cursor.execute(f"CREATE ROLE {role} NOSUPERUSER")
        cursor.execute(f"GRANT SELECT, INSERT ON {TABLE} TO {role}")
        cursor.execute(f"GRANT USAGE ON SEQUENCE {TABLE}_id_seq TO {role}")
    _as(role, f"SELECT count(*) FROM {TABLE}")
    _as(
        role,
        f"INSERT INTO {TABLE} (occurred_at, actor_role, action, allowed, object_type, object_id, "
        "detail, prev_hash, hash) VALUES (now(), '', 'view', true, '', '', '', %s, %s)",
        [event.hash, "e" * 64],
    )
    for sql in (
        f"UPDATE {TABLE} SET detail = 'x'",
        f"DELETE FROM {TABLE}",
        f"TRUNCATE {TABLE}",
        f"ALTER TABLE {TABLE} DISABLE TRIGGER audit_append_only",
        f"ALTER TABLE {TABLE} DISABLE TRIGGER ALL",
    ):
        with pytest.raises(DatabaseError, match="permission denied|must be owner"):
            _as(role, sql)
    assert AuditEvent.objects.filter(pk=event.pk, detail="").exists()


@pytest.mark.postgres
def test_the_triggers_refuse_changes_even_to_a_role_granted_them(postgres, front_desk_user, alice):
    """Granting UPDATE, DELETE or TRUNCATE by mistake does not open the log."""
    event = audit_log(actor=front_desk_user, action=Action.VIEW, obj=alice)
    role = f"clinic_app_{uuid.uuid4().hex[:8]}"
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute(f"CREATE ROLE {role} NOSUPERUSER")
        cursor.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE, TRUNCATE ON {TABLE} TO {role}")
    for sql in (
        f"UPDATE {TABLE} SET detail = 'x'",
        f"DELETE FROM {TABLE}",
        f"TRUNCATE {TABLE}",
    ):
        with pytest.raises(DatabaseError, match="append-only"):
            _as(role, sql)
    assert AuditEvent.objects.filter(pk=event.pk, detail="").exists()


# --- keying a chain written before this release ---------------------------------------------


def _key_the_chain():
    import importlib
    from types import SimpleNamespace

    from django.apps import apps

    migration = importlib.import_module("audit.migrations.0007_keyed_chain")
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # no pending checks for ALTER
    migration.key_the_chain(apps, SimpleNamespace(connection=connection))


@pytest.fixture
def unkeyed_chain(monkeypatch, front_desk_user, alice):
    """Three events hashed as before this release: SHA-256 without a key."""
    import audit.models

    monkeypatch.setattr(audit.models, "chain_hmac", lambda data: hashlib.sha256(data).hexdigest())
    events = _log_three(front_desk_user, alice)
    monkeypatch.undo()
    return events


def test_the_migration_keys_an_intact_unkeyed_chain(unkeyed_chain):
    assert not audit_verify().ok  # the old hashes do not hold under the key
    _key_the_chain()
    assert audit_verify().ok


def test_the_migration_refuses_to_key_a_broken_chain(unkeyed_chain):
    _raw(f"UPDATE {TABLE} SET patient_id = 999 WHERE id = %s", [unkeyed_chain[1].pk])
    with pytest.raises(RuntimeError, match=f"audit event {unkeyed_chain[1].pk} breaks"):
        _key_the_chain()
