from django import forms
from django.contrib import admin, messages
from django.utils import timezone
from django.utils.html import format_html

from channels_app import intake
from channels_app.email.imap import poll_mailbox
from channels_app.email.inbound import retry_quarantined
from channels_app.models import (
    ChatIntent,
    ChatSession,
    ChatWidget,
    Conversation,
    Delivery,
    DeliveryStatus,
    InboundItem,
    IntakeStatus,
    LineAccount,
    Mailbox,
    Quarantine,
    ReplyRoute,
)
from channels_app.tasks import deliver

SECRET_FIELDS = {"imap_password", "channel_secret", "channel_access_token", "identity_secret"}


def mask(secret: str) -> str:
    return f"••••{secret[-4:]}" if len(secret) > 8 else ("••••" if secret else "")


def raw_preview(data) -> str:
    """The start of a raw item (mail, event JSON) as text, escaped."""
    return format_html("<pre style='white-space:pre-wrap'>{}</pre>", bytes(data[:20_000]).decode("utf-8", "replace"))


class SecretInput(forms.PasswordInput):
    """Never renders the stored secret; leaving it empty keeps the current one."""

    def __init__(self):
        super().__init__(render_value=False, attrs={"autocomplete": "new-password"})


class SecretsKeptForm(forms.ModelForm):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name in SECRET_FIELDS & set(self.fields):
            self.fields[name].widget = SecretInput()
            self.fields[name].required = not (self.instance and self.instance.pk)
            if self.instance.pk:
                self.fields[name].help_text = f"Stored: {mask(getattr(self.instance, name))}. Leave empty to keep it."

    def clean(self):
        cleaned = super().clean()
        for name in SECRET_FIELDS & set(self.fields):
            if not cleaned.get(name) and self.instance.pk:
                cleaned[name] = getattr(self.instance, name)
        return cleaned


@admin.register(Mailbox)
class MailboxAdmin(admin.ModelAdmin):
    form = SecretsKeptForm
    list_display = ["address", "inbox", "imap_host", "is_active", "acknowledge", "last_polled_at", "last_error"]
    list_filter = ["is_active", "acknowledge", "imap_security"]
    search_fields = ["address", "imap_host", "inbox__name"]
    readonly_fields = ["last_polled_at", "last_error", "created_at"]
    actions = ["poll_now"]

    @admin.action(description="Poll the selected mailboxes now")
    def poll_now(self, request, queryset):
        for mailbox in queryset:
            handled = poll_mailbox(mailbox)
            mailbox.refresh_from_db()
            level = messages.ERROR if mailbox.last_error else messages.SUCCESS
            self.message_user(request, f"{mailbox}: {handled} message(s). {mailbox.last_error}", level)
        intake.schedule_processing()


@admin.register(LineAccount)
class LineAccountAdmin(admin.ModelAdmin):
    form = SecretsKeptForm
    list_display = ["__str__", "inbox", "is_active", "acknowledge", "webhook_url"]
    list_filter = ["is_active", "acknowledge"]
    search_fields = ["channel_id", "inbox__name"]
    readonly_fields = ["webhook_url", "created_at"]
    exclude = ["webhook_key"]

    @admin.display(description="Webhook URL (set it in the LINE Developers console)")
    def webhook_url(self, account):
        return f"/webhooks/line/{account.webhook_key}/" if account.pk else "(saved accounts get one)"


@admin.register(Quarantine)
class QuarantineAdmin(admin.ModelAdmin):
    list_display = ["id", "channel", "inbox", "sender_hint", "reason", "size", "created_at", "resolved_at"]
    list_filter = ["channel", ("resolved_at", admin.EmptyFieldListFilter)]
    search_fields = ["reason", "sender_hint"]
    readonly_fields = ["inbox", "channel", "reason", "size", "sender_hint", "created_at", "resolved_at", "preview"]
    exclude = ["raw"]
    actions = ["retry", "mark_resolved"]

    def has_add_permission(self, request):
        return False

    @admin.display(description="Raw item (first 20 KB)")
    def preview(self, item):
        return raw_preview(item.raw)

    @admin.action(description="Try to store the selected items again")
    def retry(self, request, queryset):
        for item in queryset.filter(resolved_at__isnull=True, channel="email"):
            outcome = retry_quarantined(item)
            if outcome.outcome in ("stored", "duplicate", "bounce", "loop"):
                Quarantine.objects.filter(pk=item.pk).update(resolved_at=timezone.now())
                if outcome.quarantine is not None:
                    outcome.quarantine.delete()
            elif outcome.quarantine is not None:
                outcome.quarantine.delete()  # still failing: keep the original item only
            self.message_user(request, f"#{item.pk}: {outcome.outcome} {outcome.detail}")

    @admin.action(description="Mark as resolved")
    def mark_resolved(self, request, queryset):
        queryset.update(resolved_at=timezone.now())


@admin.register(Delivery)
class DeliveryAdmin(admin.ModelAdmin):
    list_display = [
        "id",
        "message",
        "channel",
        "recipient",
        "status",
        "attempts",
        "next_attempt_at",
        "sent_at",
        "last_error",
    ]
    list_filter = ["status", "channel"]
    search_fields = ["recipient", "provider_id", "=message__ticket__id"]
    list_select_related = ["message"]
    readonly_fields = [field.name for field in Delivery._meta.fields]
    actions = ["retry_now"]

    def has_add_permission(self, request):
        return False

    @admin.action(description="Retry the selected failed deliveries now")
    def retry_now(self, request, queryset):
        ids = list(
            queryset.filter(status__in=[DeliveryStatus.FAILED, DeliveryStatus.RETRYING]).values_list("pk", flat=True)
        )
        Delivery.objects.filter(pk__in=ids).update(status=DeliveryStatus.RETRYING, next_attempt_at=timezone.now())
        for delivery_id in ids:
            deliver.delay(delivery_id)
        self.message_user(request, f"{len(ids)} delivery(ies) queued.")


@admin.register(Conversation)
class ConversationAdmin(admin.ModelAdmin):
    list_display = ["key", "inbox", "ticket", "updated_at"]
    search_fields = ["key", "=ticket__id"]
    raw_id_fields = ["ticket"]


@admin.register(ReplyRoute)
class ReplyRouteAdmin(admin.ModelAdmin):
    list_display = ["ticket", "channel", "address", "updated_at"]
    list_filter = ["channel"]
    search_fields = ["address", "=ticket__id"]
    raw_id_fields = ["ticket"]


@admin.register(ChatWidget)
class ChatWidgetAdmin(admin.ModelAdmin):
    form = SecretsKeptForm
    list_display = ["__str__", "inbox", "is_active", "bot_enabled", "ask_email", "public_key"]
    list_filter = ["is_active", "bot_enabled"]
    search_fields = ["title", "inbox__name", "public_key"]
    readonly_fields = ["embed_code", "created_at"]
    exclude = ["public_key"]

    @admin.display(description="Embed code (paste it before </body> on your site)")
    def embed_code(self, widget):
        if not widget.pk:
            return "(saved widgets get one)"
        script = "https://YOUR-HELPDESK/static/widget/widget.js"
        return format_html(
            '<code>&lt;script src="{}" data-helpdesk-key="{}" async&gt;&lt;/script&gt;</code>',
            script,
            widget.public_key,
        )


@admin.register(ChatSession)
class ChatSessionAdmin(admin.ModelAdmin):
    list_display = ["ticket", "widget", "state", "language", "queued_at", "offered_to", "accepted_at", "ended_at"]
    list_filter = ["state", "widget", "language"]
    search_fields = ["=ticket__id", "ticket__customer__name", "contact_email"]
    list_select_related = ["ticket", "widget", "offered_to"]
    # The chat's state moves only through the chat services (the console): shown here, never edited.
    readonly_fields = [field.name for field in ChatSession._meta.fields]

    def has_add_permission(self, request):
        return False


@admin.register(ChatIntent)
class ChatIntentAdmin(admin.ModelAdmin):
    list_display = ["name", "keywords", "hands_off", "is_active", "position"]
    list_editable = ["is_active", "position"]
    list_filter = ["is_active", "hands_off"]
    search_fields = ["name", "keywords", "answer_en", "answer_ja"]


@admin.register(InboundItem)
class InboundItemAdmin(admin.ModelAdmin):
    list_display = ["id", "channel", "source", "inbox", "status", "outcome", "attempts", "received_at", "processed_at"]
    list_filter = ["status", "channel", "source", "outcome"]
    search_fields = ["key", "detail", "=message__ticket__id"]
    list_select_related = ["inbox"]
    readonly_fields = [field.name for field in InboundItem._meta.fields if field.name != "payload"] + ["preview"]
    exclude = ["payload"]
    actions = ["requeue"]

    def has_add_permission(self, request):
        return False

    @admin.display(description="Payload (first 20 KB)")
    def preview(self, item):
        return raw_preview(item.payload)

    @admin.action(description="Process the selected failed items again")
    def requeue(self, request, queryset):
        keys = list(queryset.filter(status=IntakeStatus.FAILED).values_list("key", flat=True))
        requeued = sum(intake.requeue(key) for key in keys)
        intake.schedule_processing()
        self.message_user(request, f"{requeued} item(s) queued again.")
