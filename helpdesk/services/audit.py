"""The audit trail: one row per recorded change, written in the same transaction as the change."""

from django.contrib.contenttypes.models import ContentType
from django.db import models

from customers.events import CustomerChanged
from customers.models import Customer
from helpdesk.models import AuditEntry


def record_audit(*, obj: models.Model, actor_id: int | None, action: str, changes: dict) -> AuditEntry:
    return AuditEntry.objects.create(
        content_type=ContentType.objects.get_for_model(obj.__class__),
        object_id=obj.pk,
        actor_id=actor_id,
        action=action,
        changes=changes,
    )


def record_customer_change(event: CustomerChanged) -> None:
    """In-transaction listener: customer services report their changes here."""
    record_audit(
        obj=Customer(pk=event.customer_id), actor_id=event.actor_id, action=event.action, changes=event.changes
    )
