"""The audit trail: one row per recorded change, written in the same transaction as the change."""

from __future__ import annotations

import dataclasses

from django.contrib.contenttypes.models import ContentType
from django.db import models

from customers.events import CustomerChanged
from customers.models import Customer
from helpdesk.models import AuditEntry


@dataclasses.dataclass(frozen=True)
class Change:
    obj: models.Model
    actor_id: int | None
    action: str
    changes: dict


def record_audit(*, obj: models.Model, actor_id: int | None, action: str, changes: dict) -> AuditEntry:
    return record_audits([Change(obj, actor_id, action, changes)])[0]


def record_audits(changes: list[Change]) -> list[AuditEntry]:
    """Several changes in one INSERT (a batch of inbound messages opens many tickets at once)."""
    entries = [
        AuditEntry(
            content_type=ContentType.objects.get_for_model(change.obj.__class__),
            object_id=change.obj.pk,
            actor_id=change.actor_id,
            action=change.action,
            changes=change.changes,
        )
        for change in changes
    ]
    return AuditEntry.objects.bulk_create(entries)


def record_customer_changes(events: list[CustomerChanged]) -> None:
    """In-transaction listener: customer services report their changes here."""
    record_audits(
        [Change(Customer(pk=event.customer_id), event.actor_id, event.action, event.changes) for event in events]
    )
