"""The ticket core: teams, agents, inboxes, tickets and their conversation history, the audit trail."""

from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.db import models
from django.utils.translation import gettext_lazy as _

from customers.models import ChannelKind, Customer, Language, Tag


class Role(models.TextChoices):
    ADMIN = "admin", _("Admin")
    SUPERVISOR = "supervisor", _("Supervisor")
    AGENT = "agent", _("Agent")
    CUSTOMER = "customer", _("Customer")


class AssignmentStrategy(models.TextChoices):
    """How a ticket waiting in a team's queue gets an agent (see helpdesk/services/routing.py)."""

    NONE = "none", _("Leave in the team queue")
    ROUND_ROBIN = "round_robin", _("Round robin")
    LEAST_LOAD = "least_load", _("Least load")


class Team(models.Model):
    name = models.CharField(max_length=120, unique=True)
    restrict_to_team_tickets = models.BooleanField(
        default=False,
        help_text=_("Agents of this team see only their teams' tickets and the tickets assigned to them."),
    )
    assignment_strategy = models.CharField(
        max_length=16,
        choices=AssignmentStrategy.choices,
        default=AssignmentStrategy.NONE,
        help_text=_("How routed tickets get an agent of this team, unless the routing rule says otherwise."),
    )
    business_hours = models.ForeignKey(
        "helpdesk.BusinessHours",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="teams",
        help_text=_("SLA clocks of the team's tickets count these hours (an inbox's own schedule wins); none is 24/7."),
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Presence(models.TextChoices):
    ONLINE = "online", _("Online")
    AWAY = "away", _("Away")
    OFFLINE = "offline", _("Offline")


class AgentProfile(models.Model):
    """What makes a user staff of the helpdesk: role, teams and how much work they take at once."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="agent_profile")
    role = models.CharField(
        max_length=16,
        choices=[
            (Role.ADMIN, Role.ADMIN.label),
            (Role.SUPERVISOR, Role.SUPERVISOR.label),
            (Role.AGENT, Role.AGENT.label),
        ],
        default=Role.AGENT,
    )
    teams = models.ManyToManyField(Team, blank=True, related_name="agents")
    display_name = models.CharField(max_length=120, blank=True)
    language = models.CharField(max_length=8, choices=Language.choices, default=Language.ENGLISH)
    capacity = models.PositiveSmallIntegerField(
        default=5, help_text=_("Automatic assignment stops once this many new, open or pending tickets are theirs.")
    )
    chat_capacity = models.PositiveSmallIntegerField(
        default=3, help_text=_("Live chats at once; no more are offered beyond this.")
    )
    presence = models.CharField(max_length=8, choices=Presence.choices, default=Presence.OFFLINE)
    last_seen_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["user__username"]

    def __str__(self) -> str:
        return self.display_name or self.user.get_username()


class Inbox(models.Model):
    """Where conversations arrive. Its transport (mailbox, LINE account, widget) lives in channels_app."""

    name = models.CharField(max_length=120, unique=True)
    kind = models.CharField(max_length=16, choices=ChannelKind.choices)
    team = models.ForeignKey(Team, null=True, blank=True, on_delete=models.SET_NULL, related_name="inboxes")
    greeting = models.TextField(blank=True, help_text=_("Shown or sent when a conversation starts."))
    business_hours = models.ForeignKey(
        "helpdesk.BusinessHours",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="inboxes",
        help_text=_("SLA clocks of this inbox's tickets count these hours; none falls back to the team's, then 24/7."),
    )
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "inboxes"

    def __str__(self) -> str:
        return self.name


class TicketStatus(models.TextChoices):
    BOT = "bot", _("With the bot")
    NEW = "new", _("New")
    OPEN = "open", _("Open")
    PENDING = "pending", _("Pending (waiting on the customer)")
    ON_HOLD = "on_hold", _("On hold (waiting on a third party)")
    SOLVED = "solved", _("Solved")
    CLOSED = "closed", _("Closed")


class Priority(models.TextChoices):
    LOW = "low", _("Low")
    NORMAL = "normal", _("Normal")
    HIGH = "high", _("High")
    URGENT = "urgent", _("Urgent")


class Ticket(models.Model):
    inbox = models.ForeignKey(Inbox, on_delete=models.PROTECT, related_name="tickets")
    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="tickets")
    subject = models.CharField(max_length=255)
    status = models.CharField(max_length=16, choices=TicketStatus.choices, default=TicketStatus.NEW)
    priority = models.CharField(max_length=8, choices=Priority.choices, default=Priority.NORMAL)
    channel = models.CharField(max_length=16, choices=ChannelKind.choices, help_text=_("Where it started."))
    team = models.ForeignKey(Team, null=True, blank=True, on_delete=models.SET_NULL, related_name="tickets")
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="assigned_tickets"
    )
    tags = models.ManyToManyField(Tag, blank=True, related_name="tickets")
    last_message_seq = models.PositiveIntegerField(default=0, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True, db_index=False)
    first_response_at = models.DateTimeField(null=True, blank=True)
    solved_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-updated_at", "-id"]
        indexes = [
            models.Index(fields=["-updated_at", "-id"], name="ticket_recent"),
            models.Index(fields=["status", "-updated_at", "-id"], name="ticket_status_recent"),
            models.Index(fields=["team", "status", "-updated_at", "-id"], name="ticket_team_status_recent"),
            models.Index(fields=["assignee", "status", "-updated_at", "-id"], name="ticket_assignee_status_recent"),
            models.Index(fields=["inbox", "status", "-updated_at", "-id"], name="ticket_inbox_status_recent"),
            models.Index(fields=["customer", "-updated_at"], name="ticket_customer_recent"),
            models.Index(fields=["status", "solved_at"], name="ticket_status_solved_at"),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.subject}"


class MessageKind(models.TextChoices):
    MESSAGE = "message", _("Message")
    NOTE = "note", _("Internal note")
    EVENT = "event", _("System event")


class Direction(models.TextChoices):
    INBOUND = "inbound", _("From the customer")
    OUTBOUND = "outbound", _("To the customer")
    INTERNAL = "internal", _("Internal")


class AuthorType(models.TextChoices):
    CUSTOMER = "customer", _("Customer")
    AGENT = "agent", _("Agent")
    BOT = "bot", _("Bot")
    SYSTEM = "system", _("System")


class Message(models.Model):
    """One item of a ticket's conversation history, whatever its channel. Created only by
    `helpdesk.services.messages.post_message`."""

    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="messages")
    # The inbox the message came through (the ticket's, unless a customer continued the ticket from another
    # channel): each inbox's channel has its own ids, so (inbox, external id) is unique.
    inbox = models.ForeignKey(Inbox, on_delete=models.PROTECT, related_name="+")
    seq = models.PositiveIntegerField(help_text=_("Position in the ticket's history, from 1."))
    kind = models.CharField(max_length=8, choices=MessageKind.choices, default=MessageKind.MESSAGE)
    direction = models.CharField(max_length=8, choices=Direction.choices)
    channel = models.CharField(max_length=16, choices=ChannelKind.choices)
    is_public = models.BooleanField(help_text=_("Visible to the customer."))
    author_type = models.CharField(max_length=8, choices=AuthorType.choices)
    author_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    author_customer = models.ForeignKey(
        Customer, null=True, blank=True, on_delete=models.SET_NULL, related_name="authored_messages"
    )
    body_text = models.TextField(blank=True)
    body_html = models.TextField(blank=True, help_text=_("Sanitized HTML, safe to display."))
    event = models.CharField(max_length=32, blank=True, help_text=_("For system events: what happened."))
    data = models.JSONField(default=dict, blank=True)
    # NULL (not "") for "none", so that the partial unique constraint below ignores it.
    external_id = models.CharField(max_length=255, null=True, blank=True)  # noqa: DJ001
    # Reported by the channel that sends it (channels_app): "", queued, sent, retrying or failed.
    delivery_status = models.CharField(max_length=8, blank=True)
    delivery_detail = models.CharField(max_length=500, blank=True, help_text=_("Why a delivery failed or waits."))
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["ticket", "seq"]
        constraints = [
            models.UniqueConstraint(fields=["ticket", "seq"], name="message_unique_ticket_seq"),
            models.UniqueConstraint(
                fields=["inbox", "external_id"],
                condition=models.Q(external_id__isnull=False),
                name="message_unique_inbox_external_id",
            ),
        ]

    def __str__(self) -> str:
        return f"#{self.ticket_id}/{self.seq} {self.kind}"


def attachment_path(attachment: "Attachment", filename: str) -> str:
    return f"attachments/{attachment.message.ticket_id}/{attachment.message_id}/{filename}"


class Attachment(models.Model):
    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="attachments")
    file = models.FileField(upload_to=attachment_path, max_length=500)
    filename = models.CharField(max_length=255)
    content_type = models.CharField(max_length=127, default="application/octet-stream")
    size = models.PositiveBigIntegerField()
    content_id = models.CharField(max_length=255, blank=True, help_text=_("For inline images in HTML bodies."))
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["message", "id"]

    def __str__(self) -> str:
        return self.filename


class AuditEntry(models.Model):
    """Who changed what, and when, on tickets and customers."""

    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    content_type = models.ForeignKey(ContentType, on_delete=models.CASCADE, related_name="+")
    object_id = models.PositiveBigIntegerField()
    action = models.CharField(max_length=32)
    changes = models.JSONField(default=dict)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "audit entries"
        indexes = [models.Index(fields=["content_type", "object_id", "-created_at"], name="audit_object_recent")]

    def __str__(self) -> str:
        return f"{self.content_type.model} #{self.object_id} {self.action}"
