from django.contrib import admin, messages
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ValidationError
from django.utils.html import format_html

from helpdesk.models import (
    AgentProfile,
    Attachment,
    AuditEntry,
    BusinessHours,
    BusinessPeriod,
    Holiday,
    Inbox,
    Message,
    RoutingRule,
    SlaPolicy,
    SlaTarget,
    Team,
    TeamAssignmentCursor,
    Ticket,
    TicketSla,
    TicketStatus,
)
from helpdesk.services import tickets as ticket_services
from helpdesk.workflow import TransitionNotAllowed


class HistoryAdmin(admin.ModelAdmin):
    """For records of what happened (messages, audit entries, SLA clocks): look, never touch."""

    def get_readonly_fields(self, request, obj=None):
        return [field.name for field in self.model._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Team)
class TeamAdmin(admin.ModelAdmin):
    list_display = ["name", "restrict_to_team_tickets", "assignment_strategy", "business_hours", "created_at"]
    list_filter = ["restrict_to_team_tickets", "assignment_strategy", "business_hours"]
    search_fields = ["name"]
    list_select_related = ["business_hours"]


@admin.register(AgentProfile)
class AgentProfileAdmin(admin.ModelAdmin):
    list_display = ["user", "display_name", "role", "capacity", "chat_capacity", "presence", "last_seen_at"]
    list_filter = ["role", "presence", "teams", "language"]
    search_fields = ["user__username", "user__email", "display_name"]
    filter_horizontal = ["teams"]
    autocomplete_fields = ["user"]
    list_select_related = ["user"]


@admin.register(Inbox)
class InboxAdmin(admin.ModelAdmin):
    list_display = ["name", "kind", "team", "business_hours", "is_active", "created_at"]
    list_filter = ["kind", "is_active", "team", "business_hours"]
    search_fields = ["name"]
    list_select_related = ["team", "business_hours"]


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


class TicketSlaInline(admin.StackedInline):
    """The ticket's SLA clock, read-only: the ticket services move it."""

    model = TicketSla
    can_delete = False
    fields = [
        "policy", "business_hours", "clock", "elapsed", "elapsed_until",
        "first_response_due_at", "next_response_due_at", "resolution_due_at",
        "first_response_met_at", "resolution_met_at", "breached", "near_breach", "next_check_at",
    ]  # fmt: skip
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False


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
    inlines = [TicketSlaInline, MessageInline]
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
class MessageAdmin(HistoryAdmin):
    """Read-only: the conversation history is never edited after the fact."""

    list_display = ["ticket", "seq", "kind", "direction", "channel", "author_type", "is_public", "created_at"]
    list_filter = ["kind", "direction", "channel", "author_type", "is_public"]
    search_fields = ["=ticket__id", "body_text", "external_id"]
    list_select_related = ["ticket"]
    inlines = [AttachmentInline]


@admin.register(AuditEntry)
class AuditEntryAdmin(HistoryAdmin):
    list_display = ["created_at", "content_type", "object_id", "action", "actor", "changes"]
    list_filter = ["content_type", "action"]
    search_fields = ["=object_id", "actor__username", "action"]
    list_select_related = ["content_type", "actor"]
    date_hierarchy = "created_at"


class BusinessPeriodInline(admin.TabularInline):
    model = BusinessPeriod
    extra = 1


class HolidayInline(admin.TabularInline):
    model = Holiday
    extra = 1


@admin.register(BusinessHours)
class BusinessHoursAdmin(admin.ModelAdmin):
    list_display = ["name", "time_zone", "weekly_periods", "created_at"]
    list_filter = ["time_zone"]
    search_fields = ["name", "time_zone"]
    inlines = [BusinessPeriodInline, HolidayInline]

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("periods")

    @admin.display(description="Open")
    def weekly_periods(self, schedule):
        return ", ".join(str(period) for period in schedule.periods.all()) or "never"


class SlaTargetInline(admin.TabularInline):
    model = SlaTarget
    extra = 0
    min_num = 1


@admin.register(SlaPolicy)
class SlaPolicyAdmin(admin.ModelAdmin):
    list_display = ["name", "is_active", "inbox", "team", "near_breach_percent", "created_at"]
    list_filter = ["is_active", "inbox", "team"]
    search_fields = ["name"]
    list_select_related = ["inbox", "team"]
    inlines = [SlaTargetInline]


@admin.register(TicketSla)
class TicketSlaAdmin(HistoryAdmin):
    """Read-only: SLA clocks are moved by the ticket services and the breach task."""

    list_display = [
        "ticket", "policy", "clock", "first_response_due_at", "next_response_due_at", "resolution_due_at",
        "breached", "near_breach",
    ]  # fmt: skip
    list_filter = [
        "clock", "policy", "first_response_breached", "next_response_breached", "resolution_breached",
        "first_response_near_breach", "next_response_near_breach", "resolution_near_breach",
    ]  # fmt: skip
    search_fields = ["=ticket__id", "ticket__subject"]
    list_select_related = ["ticket", "policy"]


@admin.register(RoutingRule)
class RoutingRuleAdmin(admin.ModelAdmin):
    list_display = [
        "position", "name", "is_active", "inbox", "channel", "language", "keywords", "organization",
        "customer_tag", "set_team", "set_priority", "assign_to", "assign_by", "stop_processing",
    ]  # fmt: skip
    list_display_links = ["name"]
    list_editable = ["position", "is_active"]
    list_filter = ["is_active", "inbox", "channel", "language", "set_team", "assign_by", "stop_processing"]
    search_fields = ["name", "keywords"]
    list_select_related = ["inbox", "organization", "customer_tag", "set_team", "assign_to"]
    filter_horizontal = ["add_tags"]
    autocomplete_fields = ["organization", "customer_tag", "assign_to"]
    fieldsets = [
        (None, {"fields": ["name", "position", "is_active", "stop_processing"]}),
        ("When every given condition holds", {
            "fields": ["inbox", "channel", "language", "keywords", "organization", "customer_tag"],
        }),
        ("Then", {"fields": ["set_team", "set_priority", "add_tags", "assign_to", "assign_by"]}),
    ]  # fmt: skip


@admin.register(TeamAssignmentCursor)
class TeamAssignmentCursorAdmin(admin.ModelAdmin):
    """Read-only: where round robin stands in each team."""

    list_display = ["team", "last_assignee", "last_assigned_at"]
    search_fields = ["team__name"]
    list_select_related = ["team", "last_assignee"]

    def get_readonly_fields(self, request, obj=None):
        return ["team", "last_assignee", "last_assigned_at"]

    def has_add_permission(self, request):
        return False
