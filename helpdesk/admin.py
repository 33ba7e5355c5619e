from django.contrib import admin, messages
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ValidationError
from django.utils.html import format_html

from helpdesk.models import AgentProfile, Attachment, AuditEntry, Inbox, Message, Team, Ticket, TicketStatus
from helpdesk.services import tickets as ticket_services
from helpdesk.workflow import TransitionNotAllowed


@admin.register(Team)
class TeamAdmin(admin.ModelAdmin):
    list_display = ["name", "restrict_to_team_tickets", "created_at"]
    list_filter = ["restrict_to_team_tickets"]
    search_fields = ["name"]


@admin.register(AgentProfile)
class AgentProfileAdmin(admin.ModelAdmin):
    list_display = ["user", "display_name", "role", "capacity", "presence", "last_seen_at"]
    list_filter = ["role", "presence", "teams", "language"]
    search_fields = ["user__username", "user__email", "display_name"]
    filter_horizontal = ["teams"]
    autocomplete_fields = ["user"]
    list_select_related = ["user"]


@admin.register(Inbox)
class InboxAdmin(admin.ModelAdmin):
    list_display = ["name", "kind", "team", "is_active", "created_at"]
    list_filter = ["kind", "is_active", "team"]
    search_fields = ["name"]


class MessageInline(admin.TabularInline):
    model = Message
    extra = 0
    fields = [
        "seq",
        "kind",
        "direction",
        "channel",
        "author_type",
        "author_user",
        "author_customer",
        "body_text",
        "created_at",
    ]
    readonly_fields = fields
    can_delete = False
    ordering = ["seq"]
    show_change_link = True

    def has_add_permission(self, request, obj=None):
        return False


def _status_action(status: str):
    def apply(modeladmin, request, queryset):
        moved = 0
        for ticket in queryset:
            try:
                ticket_services.change_status(ticket=ticket, status=status, actor=request.user)
                moved += 1
            except TransitionNotAllowed as error:
                modeladmin.message_user(request, f"#{ticket.pk}: {error}", messages.WARNING)
        modeladmin.message_user(request, f"{moved} ticket(s) set to {TicketStatus(status).label}.")

    apply.short_description = f"Set status: {TicketStatus(status).label}"
    apply.__name__ = f"set_status_{status}"
    return apply


@admin.register(Ticket)
class TicketAdmin(admin.ModelAdmin):
    list_display = [
        "id",
        "subject",
        "status",
        "priority",
        "channel",
        "customer",
        "inbox",
        "team",
        "assignee",
        "updated_at",
    ]
    list_filter = ["status", "priority", "channel", "inbox", "team", ("assignee", admin.EmptyFieldListFilter), "tags"]
    search_fields = ["=id", "subject", "customer__name", "customer__identities__value"]
    list_select_related = ["customer", "inbox", "team", "assignee"]
    date_hierarchy = "created_at"
    readonly_fields = [
        "inbox", "customer", "channel", "status", "team", "assignee", "last_message_seq",
        "created_at", "updated_at", "first_response_at", "solved_at", "closed_at", "audit_link",
    ]  # fmt: skip
    fields = ["subject", "priority", "tags", *readonly_fields]
    filter_horizontal = ["tags"]
    inlines = [MessageInline]
    actions = ["assign_to_me", "unassign", *(_status_action(s) for s in ("open", "pending", "solved", "closed"))]

    def has_add_permission(self, request):
        return False  # tickets start from a channel or the API, with their first message

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        ticket_services.update_ticket(
            ticket=obj, actor=request.user, subject=form.cleaned_data["subject"], priority=form.cleaned_data["priority"]
        )

    def save_related(self, request, form, formsets, change):
        tags = [tag.name for tag in form.cleaned_data["tags"]]
        ticket_services.update_ticket(ticket=form.instance, actor=request.user, tags=tags)

    @admin.display(description="Audit trail")
    def audit_link(self, ticket):
        content_type = ContentType.objects.get_for_model(Ticket)
        return format_html(
            '<a href="../../../auditentry/?content_type__id__exact={}&object_id={}">History of changes</a>',
            content_type.pk,
            ticket.pk,
        )

    @admin.action(description="Assign to me")
    def assign_to_me(self, request, queryset):
        self._assign(request, queryset, request.user)

    @admin.action(description="Unassign")
    def unassign(self, request, queryset):
        self._assign(request, queryset, None)

    def _assign(self, request, queryset, assignee):
        done = 0
        for ticket in queryset:
            try:
                ticket_services.assign_ticket(ticket=ticket, assignee=assignee, actor=request.user)
                done += 1
            except ValidationError as error:
                self.message_user(request, f"#{ticket.pk}: {'; '.join(error.messages)}", messages.WARNING)
        self.message_user(request, f"{done} ticket(s) updated.")


class AttachmentInline(admin.TabularInline):
    model = Attachment
    extra = 0
    fields = ["filename", "content_type", "size", "content_id"]
    readonly_fields = fields
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Message)
class MessageAdmin(admin.ModelAdmin):
    """Read-only: the conversation history is never edited after the fact."""

    list_display = ["ticket", "seq", "kind", "direction", "channel", "author_type", "is_public", "created_at"]
    list_filter = ["kind", "direction", "channel", "author_type", "is_public"]
    search_fields = ["=ticket__id", "body_text", "external_id"]
    list_select_related = ["ticket"]
    inlines = [AttachmentInline]

    def get_readonly_fields(self, request, obj=None):
        return [field.name for field in Message._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(AuditEntry)
class AuditEntryAdmin(admin.ModelAdmin):
    list_display = ["created_at", "content_type", "object_id", "action", "actor", "changes"]
    list_filter = ["content_type", "action"]
    search_fields = ["=object_id", "actor__username", "action"]
    list_select_related = ["content_type", "actor"]
    date_hierarchy = "created_at"

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
