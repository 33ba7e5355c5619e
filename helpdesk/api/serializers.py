from django.conf import settings
from django.core.exceptions import ObjectDoesNotExist
from django.db import models
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from customers.api.fields import (
    BoundedPrimaryKeyRelatedField,
    IdField,
    StrictCharField,
    StrictModelSerializer,
    StrictSerializer,
)
from customers.models import Customer
from helpdesk.models import Attachment, AuditEntry, Inbox, Message, Priority, SlaClock, SlaMetric, Ticket, TicketStatus


class RefSerializer(StrictSerializer):
    id = serializers.IntegerField()
    name = StrictCharField()


def _user_ref(user) -> dict | None:
    if user is None:
        return None
    profile = getattr(user, "agent_profile", None)
    name = (profile.display_name if profile else "") or user.get_full_name() or user.get_username()
    return {"id": user.pk, "name": name}


# Plain strings rather than a choice field: two enum properties with one choice set need a settings entry.
METRICS = ", ".join(SlaMetric.values)


class SlaStateSerializer(StrictSerializer):
    """The ticket's SLA clock (docs/routing-and-sla.md). A due time is null once its target is met, when
    the policy sets no such target, and while the clock is stopped (solved, closed); while `paused`, due
    times are those in force when the clock stopped and move later when it runs again."""

    policy = RefSerializer(allow_null=True)
    first_response_due_at = serializers.DateTimeField(allow_null=True)
    next_response_due_at = serializers.DateTimeField(allow_null=True)
    resolution_due_at = serializers.DateTimeField(allow_null=True)
    breached = serializers.ListField(child=StrictCharField(), help_text=f"Targets breached, of: {METRICS}.")
    near_breach = serializers.ListField(
        child=StrictCharField(), help_text=f"Targets still to meet with little time left, of: {METRICS}."
    )
    paused = serializers.BooleanField()


def _sla_state(ticket) -> dict | None:
    try:
        sla = ticket.sla
    except ObjectDoesNotExist:
        return None  # a ticket from before SLAs existed
    return {
        "policy": {"id": sla.policy_id, "name": sla.policy.name} if sla.policy_id else None,
        "first_response_due_at": sla.first_response_due_at,
        "next_response_due_at": sla.next_response_due_at,
        "resolution_due_at": sla.resolution_due_at,
        "breached": sla.breached,
        "near_breach": sla.near_breach,
        "paused": sla.clock == SlaClock.PAUSED,
    }


class TicketSerializer(StrictModelSerializer):
    inbox = serializers.SerializerMethodField()
    customer = serializers.SerializerMethodField()
    team = serializers.SerializerMethodField()
    assignee = serializers.SerializerMethodField()
    tags = serializers.SerializerMethodField()
    sla = serializers.SerializerMethodField()

    class Meta:
        model = Ticket
        fields = [
            "id", "subject", "status", "priority", "channel", "inbox", "customer", "team", "assignee", "tags",
            "last_message_seq", "created_at", "updated_at", "first_response_at", "solved_at", "closed_at", "sla",
        ]  # fmt: skip
        read_only_fields = fields

    @extend_schema_field(RefSerializer)
    def get_inbox(self, ticket):
        return {"id": ticket.inbox_id, "name": ticket.inbox.name}

    @extend_schema_field(RefSerializer)
    def get_customer(self, ticket):
        return {"id": ticket.customer_id, "name": str(ticket.customer)}

    @extend_schema_field(RefSerializer(allow_null=True))
    def get_team(self, ticket):
        return {"id": ticket.team_id, "name": ticket.team.name} if ticket.team_id else None

    @extend_schema_field(RefSerializer(allow_null=True))
    def get_assignee(self, ticket):
        return _user_ref(ticket.assignee)

    @extend_schema_field(serializers.ListField(child=StrictCharField()))
    def get_tags(self, ticket):
        return sorted(tag.name for tag in ticket.tags.all())

    @extend_schema_field(SlaStateSerializer(allow_null=True))
    def get_sla(self, ticket):
        if not self.context.get("staff", True):
            return None  # SLA policies and breaches are internal
        state = _sla_state(ticket)
        return SlaStateSerializer(state).data if state is not None else None


class NewTicketSerializer(StrictSerializer):
    inbox = BoundedPrimaryKeyRelatedField(queryset=Inbox.objects.filter(is_active=True))
    customer = BoundedPrimaryKeyRelatedField(queryset=Customer.objects.filter(merged_into__isnull=True))
    subject = StrictCharField(max_length=255)
    priority = serializers.ChoiceField(choices=Priority.choices, default=Priority.NORMAL)
    body_text = StrictCharField(max_length=200_000, required=False, allow_blank=True, default="")
    body_html = StrictCharField(max_length=400_000, required=False, allow_blank=True, default="")
    from_customer = serializers.BooleanField(
        default=False,
        help_text="Record the body as written by the customer (a phone request, say) instead of sent by the agent.",
    )


class TicketUpdateSerializer(StrictSerializer):
    subject = StrictCharField(max_length=255, required=False)
    priority = serializers.ChoiceField(choices=Priority.choices, required=False)
    tags = serializers.ListField(child=StrictCharField(max_length=64), required=False, max_length=50)


class StatusChangeSerializer(StrictSerializer):
    status = serializers.ChoiceField(choices=TicketStatus.choices)


class AssignmentSerializer(StrictSerializer):
    assignee = IdField(allow_null=True, required=False, help_text="Agent user id, or null.")
    team = IdField(allow_null=True, required=False, help_text="Team id, or null.")

    def validate(self, attrs):
        if not attrs:
            raise serializers.ValidationError("Give an assignee, a team, or both.")
        return attrs


class AttachmentSerializer(StrictModelSerializer):
    url = serializers.SerializerMethodField()

    class Meta:
        model = Attachment
        fields = ["id", "filename", "content_type", "size", "content_id", "url"]
        read_only_fields = fields

    def get_url(self, attachment) -> str:
        return f"/api/v1/tickets/{attachment.message.ticket_id}/attachments/{attachment.pk}/"


class MessageSerializer(StrictModelSerializer):
    author = serializers.SerializerMethodField()
    attachments = AttachmentSerializer(many=True, read_only=True)

    class Meta:
        model = Message
        fields = [
            "id", "seq", "kind", "direction", "channel", "is_public", "author_type", "author", "body_text",
            "body_html", "event", "data", "external_id", "attachments", "delivery_status", "delivery_detail",
            "created_at",
        ]  # fmt: skip
        read_only_fields = fields

    @extend_schema_field(RefSerializer(allow_null=True))
    def get_author(self, message):
        if message.author_customer_id:
            return {"id": message.author_customer_id, "name": str(message.author_customer)}
        return _user_ref(message.author_user)


class PostKind(models.TextChoices):
    REPLY = "reply", "Public reply"
    NOTE = "note", "Internal note"


class NewMessageSerializer(StrictSerializer):
    kind = serializers.ChoiceField(choices=PostKind.choices, default=PostKind.REPLY)
    body_text = StrictCharField(max_length=200_000, required=False, allow_blank=True, default="")
    body_html = StrictCharField(max_length=400_000, required=False, allow_blank=True, default="")
    status = serializers.ChoiceField(
        choices=TicketStatus.choices, required=False, help_text="Move the ticket on with a reply (e.g. pending)."
    )
    external_id = StrictCharField(
        max_length=200,
        required=False,
        help_text="Idempotency key: posting the same id again returns the first message.",
    )
    attachments = serializers.ListField(
        child=serializers.FileField(max_length=200, allow_empty_file=False), required=False, max_length=10
    )

    def validate_attachments(self, files):
        limit = settings.HELPDESK_MAX_ATTACHMENT_BYTES
        for upload in files:
            if upload.size > limit:
                raise serializers.ValidationError(f"{upload.name} is larger than {limit} bytes.")
        return files

    def validate(self, attrs):
        if not (attrs["body_text"].strip() or attrs["body_html"].strip() or attrs.get("attachments")):
            raise serializers.ValidationError("A message needs body_text, body_html or an attachment.")
        return attrs


class AuditEntrySerializer(StrictModelSerializer):
    actor = serializers.SerializerMethodField()

    class Meta:
        model = AuditEntry
        fields = ["id", "action", "changes", "actor", "created_at"]
        read_only_fields = fields

    @extend_schema_field(RefSerializer(allow_null=True))
    def get_actor(self, entry):
        return _user_ref(entry.actor)
