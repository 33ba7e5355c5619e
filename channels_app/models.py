"""The transport side of inboxes: credentials and settings per channel, conversations, quarantined
items and outbound deliveries. Secrets are kept out of logs and shown masked in the admin."""

import secrets

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from helpdesk.models import Inbox, Message, Ticket


def new_key() -> str:
    return secrets.token_urlsafe(24)


class ChannelConfig(models.Model):
    """What every channel of an inbox shares: acknowledgement and cross-channel continuity."""

    inbox = models.OneToOneField(Inbox, on_delete=models.CASCADE, related_name="+")
    is_active = models.BooleanField(default=True)
    acknowledge = models.BooleanField(
        default=False, help_text=_("Tell the customer when to expect an answer, once per new ticket.")
    )
    continue_open_ticket_hours = models.PositiveIntegerField(
        default=72,
        help_text=_(
            "A customer who writes without referring to a ticket continues their most recent unsolved ticket "
            "(from any channel) updated within this many hours. 0 always opens a new ticket."
        ),
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        abstract = True


class ImapSecurity(models.TextChoices):
    SSL = "ssl", _("SSL/TLS")
    STARTTLS = "starttls", _("STARTTLS")
    NONE = "none", _("None (local servers only)")


class Mailbox(ChannelConfig):
    """A support address. Mail arrives by IMAP polling, an MTA pipe (ingest_email) or a provider webhook."""

    address = models.EmailField(unique=True, help_text=_("The support address customers write to."))
    from_name = models.CharField(max_length=120, blank=True, help_text=_("Sender name on outgoing mail."))
    imap_host = models.CharField(max_length=255, blank=True, help_text=_("Empty: no polling."))
    imap_port = models.PositiveIntegerField(default=993)
    imap_security = models.CharField(max_length=8, choices=ImapSecurity.choices, default=ImapSecurity.SSL)
    imap_username = models.CharField(max_length=255, blank=True)
    imap_password = models.CharField(max_length=255, blank=True)
    imap_folder = models.CharField(max_length=255, default="INBOX")
    last_polled_at = models.DateTimeField(null=True, blank=True, editable=False)
    last_error = models.TextField(blank=True, editable=False)

    class Meta:
        verbose_name_plural = "mailboxes"

    def __str__(self) -> str:
        return self.address


class LineAccount(ChannelConfig):
    """A LINE official account (Messaging API channel)."""

    channel_id = models.CharField(max_length=64, blank=True)
    channel_secret = models.CharField(max_length=128, help_text=_("Verifies x-line-signature."))
    channel_access_token = models.CharField(max_length=512, help_text=_("Long-lived channel access token."))
    webhook_key = models.CharField(
        max_length=64, unique=True, default=new_key, help_text=_("The secret last part of the webhook URL.")
    )

    def __str__(self) -> str:
        return f"LINE {self.channel_id or self.pk}"


class WebForm(ChannelConfig):
    """The support form at /support/new (or /support/<slug>/new), embeddable in the company's site."""

    slug = models.SlugField(unique=True, default="support")
    title = models.CharField(max_length=200, default="Contact support")
    embed_origins = models.TextField(
        blank=True,
        help_text=_("Sites allowed to embed the form in a frame, one origin per line (https://www.example.com)."),
    )

    def __str__(self) -> str:
        return self.title

    @property
    def frame_ancestors(self) -> list[str]:
        return [line.strip() for line in self.embed_origins.splitlines() if line.strip().startswith("https://")]


class PhoneLine(ChannelConfig):
    """A phone number whose calls are logged: by agents through the API, or by the telephony provider's
    webhook (signed with `signing_secret`)."""

    number = models.CharField(max_length=20, unique=True, help_text=_("E.164, e.g. +81312345678."))
    webhook_key = models.CharField(max_length=64, unique=True, default=new_key)
    signing_secret = models.CharField(max_length=128, default=new_key, help_text=_("HMAC-SHA256 key of webhooks."))

    def __str__(self) -> str:
        return self.number


class ChatWidget(ChannelConfig):
    """The website chat of an inbox: embedded in the company's sites with one <script> tag carrying
    `public_key`, the bot answering first, agents taking over."""

    public_key = models.CharField(
        max_length=64, unique=True, default=new_key, help_text=_("Goes in the embed tag; not a secret.")
    )
    allowed_origins = models.TextField(
        blank=True,
        help_text=_("Sites that may show the chat, one origin per line (https://www.example.com)."),
    )
    identity_secret = models.CharField(
        max_length=128,
        default=new_key,
        help_text=_("Signs the user ids your site vouches for (HMAC-SHA256); keep it on your server only."),
    )
    title = models.CharField(max_length=120, default="Chat with us")
    title_ja = models.CharField(max_length=120, default="チャットでお問い合わせ")
    greeting = models.TextField(blank=True, default="Hi! Ask us anything.")
    greeting_ja = models.TextField(blank=True, default="こんにちは。お気軽にご質問ください。")
    ask_name = models.BooleanField(default=True, help_text=_("Ask for a name before the first message."))
    ask_email = models.BooleanField(default=True, help_text=_("Ask for an email address (answers after the chat)."))
    require_email = models.BooleanField(default=False)
    bot_enabled = models.BooleanField(default=True, help_text=_("The bot answers first, then hands off."))
    bot_takes_returning_customers = models.BooleanField(
        default=False, help_text=_("A customer writing again after a chat ended starts with the bot again.")
    )
    offer_seconds = models.PositiveSmallIntegerField(
        default=45, help_text=_("How long a waiting chat is offered to one agent before the next one.")
    )

    def __str__(self) -> str:
        return f"Chat {self.title} ({self.inbox})"

    @property
    def origins(self) -> list[str]:
        return [line.strip().rstrip("/") for line in self.allowed_origins.splitlines() if line.strip()]


class ChatState(models.TextChoices):
    BOT = "bot", _("With the bot")
    QUEUED = "queued", _("Waiting for an agent")
    AGENT = "agent", _("With an agent")
    ENDED = "ended", _("Ended")


class ChatSession(models.Model):
    """The live chat on a ticket: who talks to the customer (the bot, nobody yet, an agent), the bot's memory,
    the offer to an agent, and how far each side has read. Changed only by channels_app/chat/services.py."""

    ticket = models.OneToOneField(Ticket, primary_key=True, on_delete=models.CASCADE, related_name="chat")
    widget = models.ForeignKey(ChatWidget, on_delete=models.PROTECT, related_name="sessions")
    visitor = models.CharField(max_length=128, help_text=_("The visitor token of the browser that started it."))
    state = models.CharField(max_length=8, choices=ChatState.choices)
    bot_state = models.JSONField(default=dict, blank=True)
    handoff_summary = models.TextField(blank=True)
    language = models.CharField(max_length=8, blank=True)
    page = models.URLField(max_length=500, blank=True, help_text=_("Where the chat started."))
    contact_email = models.EmailField(blank=True, help_text=_("Typed into the widget; not verified."))
    queued_at = models.DateTimeField(null=True, blank=True)
    offered_to = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    offered_at = models.DateTimeField(null=True, blank=True)
    declined_by = models.JSONField(default=list, blank=True, help_text=_("Agents who let this offer pass."))
    accepted_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    customer_read_seq = models.PositiveIntegerField(default=0)
    agent_read_seq = models.PositiveIntegerField(default=0)
    transcripts_sent = models.PositiveSmallIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        indexes = [models.Index(fields=["state", "queued_at"], name="chat_session_queue")]

    def __str__(self) -> str:
        return f"Chat on #{self.ticket_id} ({self.state})"


class ChatIntent(models.Model):
    """What the chat bot recognizes beyond its built-in intents: keywords and the answer (or a hand-off)."""

    name = models.CharField(max_length=80, unique=True)
    keywords = models.TextField(help_text=_("Words or phrases, one per line or separated by commas; any language."))
    answer_en = models.TextField(blank=True, help_text=_("May use {hours} (support hours) and {wait} (expected wait)."))
    answer_ja = models.TextField(blank=True)
    hands_off = models.BooleanField(default=False, help_text=_("Hand the chat to an agent (after the answer)."))
    is_active = models.BooleanField(default=True)
    position = models.PositiveIntegerField(default=0, help_text=_("Lower positions are tried first."))

    class Meta:
        ordering = ["position", "name"]

    def __str__(self) -> str:
        return self.name


class Conversation(models.Model):
    """A channel-level conversation (a LINE group or room) and the ticket it continues."""

    inbox = models.ForeignKey(Inbox, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=255)
    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="+")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["inbox", "key"], name="conversation_unique_inbox_key")]

    def __str__(self) -> str:
        return self.key


class IntakeStatus(models.TextChoices):
    PENDING = "pending", _("Waiting")
    DONE = "done", _("Done")
    FAILED = "failed", _("Failed (gave up)")


class IntakeSource(models.TextChoices):
    IMAP = "imap", _("IMAP polling")
    MTA = "mta", _("MTA pipe")
    PROVIDER = "provider", _("Email provider webhook")
    LINE = "line", _("LINE webhook")


class InboundItem(models.Model):
    """An inbound item exactly as it arrived (a raw mail, one LINE webhook event), stored before anything
    else is done with it. The sender gets its answer once the item is safe here; workers then turn items
    into messages in batches (channels_app/intake.py). The same item arriving again (an MTA retry, a LINE
    redelivery) has the same `key` and is stored once."""

    channel = models.CharField(max_length=16)
    key = models.CharField(max_length=255, unique=True, help_text=_("Channel, inbox and the item's own id."))
    source = models.CharField(max_length=16, choices=IntakeSource.choices)
    inbox = models.ForeignKey(
        Inbox,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="+",
        help_text=_(
            "Where it arrived. For mail from an MTA pipe or a provider, only a fallback: the recipient decides."
        ),
    )
    payload = models.BinaryField(help_text=_("The raw mail, or the JSON of the event."))
    status = models.CharField(max_length=12, choices=IntakeStatus.choices, default=IntakeStatus.PENDING)
    outcome = models.CharField(
        max_length=16, blank=True, help_text=_("stored, duplicate, loop, bounce, quarantined...")
    )
    detail = models.TextField(blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    not_before = models.DateTimeField(null=True, blank=True, help_text=_("A failed item is tried again after this."))
    message = models.ForeignKey(Message, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    received_at = models.DateTimeField(auto_now_add=True)
    processed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        indexes = [
            models.Index(fields=["status", "id"], name="inbound_item_queue"),
            models.Index(fields=["status", "processed_at"], name="inbound_item_processed"),
        ]

    def __str__(self) -> str:
        return f"{self.channel} item #{self.pk} ({self.status})"


class ReplyRoute(models.Model):
    """Where a ticket's answers go on one channel: the address the customer last wrote from there
    (email From, LINE user or group), and what the channel needs to answer in thread."""

    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="+")
    channel = models.CharField(max_length=16)
    address = models.CharField(max_length=320)
    context = models.JSONField(default=dict, blank=True, help_text=_("Last inbound Message-ID, LINE reply token..."))
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["ticket", "channel"], name="reply_route_unique_ticket_channel")]

    def __str__(self) -> str:
        return f"#{self.ticket_id} {self.channel}: {self.address}"


class Quarantine(models.Model):
    """An inbound item that could not become a message, kept whole for an admin to inspect or retry."""

    inbox = models.ForeignKey(Inbox, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    channel = models.CharField(max_length=16)
    reason = models.TextField()
    raw = models.BinaryField()
    size = models.PositiveIntegerField()
    sender_hint = models.CharField(max_length=320, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    resolved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name_plural = "quarantined items"

    def __str__(self) -> str:
        return f"{self.channel} item #{self.pk}: {self.reason[:60]}"


class DeliveryStatus(models.TextChoices):
    QUEUED = "queued", _("Queued")
    SENT = "sent", _("Sent")
    RETRYING = "retrying", _("Retrying")
    FAILED = "failed", _("Failed")


class Delivery(models.Model):
    """One outbound message sent (or being sent) through a channel, with every attempt counted."""

    message = models.OneToOneField(Message, on_delete=models.CASCADE, related_name="delivery")
    channel = models.CharField(max_length=16)
    recipient = models.CharField(max_length=320)
    status = models.CharField(max_length=8, choices=DeliveryStatus.choices, default=DeliveryStatus.QUEUED)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    provider_id = models.CharField(max_length=255, blank=True, help_text=_("The channel's id of what was sent."))
    sent_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name_plural = "deliveries"
        indexes = [models.Index(fields=["status", "next_attempt_at"], name="delivery_due")]

    def __str__(self) -> str:
        return f"{self.channel} to {self.recipient}: {self.status}"
