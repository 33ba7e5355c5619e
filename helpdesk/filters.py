import django_filters
from django.contrib.auth import get_user_model
from django.db.models import Q

from customers.filters import BoundedIsoDateTimeFilter
from customers.models import Customer
from helpdesk.models import Inbox, Priority, SlaClock, SlaMetric, Team, Ticket, TicketStatus


class TicketFilter(django_filters.FilterSet):
    """Filters of the ticket list (API and inbox pages). Repeat a parameter to match any of its values.

    No filter joins a to-many relation that could repeat a ticket (a ticket has a tag once), so none asks
    for DISTINCT, which django-filter adds to multiple-choice filters by default: on PostgreSQL a
    DISTINCT keeps the planner from walking the (status, updated_at) indexes and, at a million tickets,
    made a filtered inbox page three times slower (docs/performance.md).
    """

    status = django_filters.MultipleChoiceFilter(choices=TicketStatus.choices, distinct=False)
    priority = django_filters.MultipleChoiceFilter(choices=Priority.choices, distinct=False)
    team = django_filters.ModelMultipleChoiceFilter(queryset=Team.objects.all(), distinct=False)
    assignee = django_filters.ModelMultipleChoiceFilter(
        queryset=get_user_model().objects.filter(agent_profile__isnull=False), distinct=False
    )
    unassigned = django_filters.BooleanFilter(field_name="assignee", lookup_expr="isnull")
    inbox = django_filters.ModelMultipleChoiceFilter(queryset=Inbox.objects.all(), distinct=False)
    customer = django_filters.ModelChoiceFilter(queryset=Customer.objects.all())
    tag = django_filters.CharFilter(field_name="tags__name", label="Has tag")
    updated_since = BoundedIsoDateTimeFilter(field_name="updated_at", lookup_expr="gte")
    q = django_filters.CharFilter(field_name="subject", lookup_expr="icontains", label="Subject contains")
    sla_breached = django_filters.BooleanFilter(method="filter_sla_breached", label="Has breached an SLA target")
    sla_due_before = BoundedIsoDateTimeFilter(
        method="filter_sla_due_before", label="An SLA target still to meet is due before (running clocks only)"
    )

    class Meta:
        model = Ticket
        fields = []

    def filter_sla_breached(self, queryset, name, value):
        breached = Q()
        for metric in SlaMetric.values:
            breached |= Q(**{f"sla__{metric}_breached": True})
        return queryset.filter(breached) if value else queryset.exclude(breached)

    def filter_sla_due_before(self, queryset, name, value):
        due = Q()
        for metric in SlaMetric.values:
            due |= Q(**{f"sla__{metric}_due_at__lt": value})
        return queryset.filter(due, sla__clock=SlaClock.RUNNING)
