"""Service-level agreements: policies with targets per priority, and the SLA clock of each ticket.

The clock is driven by `helpdesk/services/sla.py`; docs/routing-and-sla.md explains its semantics.
"""

from datetime import timedelta

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

from helpdesk.models.business_hours import BusinessHours
from helpdesk.models.core import Inbox, Priority, Team, Ticket

TARGET_MINUTES = {"null": True, "blank": True, "validators": [MinValueValidator(1)]}


class SlaMetric(models.TextChoices):
    FIRST_RESPONSE = "first_response", _("First response")
    NEXT_RESPONSE = "next_response", _("Next response")
    RESOLUTION = "resolution", _("Resolution")


class SlaPolicy(models.Model):
    """Targets per priority. A ticket gets the most specific active policy with a target row for its priority:
    inbox and team, then inbox, then team, then a policy for everything (the oldest wins a tie)."""

    name = models.CharField(max_length=120, unique=True)
    is_active = models.BooleanField(default=True)
    inbox = models.ForeignKey(
        Inbox, null=True, blank=True, on_delete=models.CASCADE, related_name="sla_policies",
        help_text=_("Only tickets of this inbox (blank: any inbox)."),
    )  # fmt: skip
    team = models.ForeignKey(
        Team, null=True, blank=True, on_delete=models.CASCADE, related_name="sla_policies",
        help_text=_("Only tickets of this team (blank: any team)."),
    )  # fmt: skip
    near_breach_percent = models.PositiveSmallIntegerField(
        default=20,
        validators=[MinValueValidator(1), MaxValueValidator(99)],
        help_text=_("A target is near breach once less than this share of it is left."),
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        verbose_name = "SLA policy"
        verbose_name_plural = "SLA policies"

    def __str__(self) -> str:
        return self.name


class SlaTarget(models.Model):
    """Business minutes allowed for each metric at one priority; blank means no target for that metric."""

    policy = models.ForeignKey(SlaPolicy, on_delete=models.CASCADE, related_name="targets")
    priority = models.CharField(max_length=8, choices=Priority.choices)
    first_response_minutes = models.PositiveIntegerField(**TARGET_MINUTES)
    next_response_minutes = models.PositiveIntegerField(**TARGET_MINUTES)
    resolution_minutes = models.PositiveIntegerField(**TARGET_MINUTES)

    class Meta:
        ordering = ["policy", "priority"]
        verbose_name = "SLA target"
        constraints = [models.UniqueConstraint(fields=["policy", "priority"], name="sla_target_unique_priority")]

    def __str__(self) -> str:
        return f"{self.policy} / {self.priority}"


class SlaClock(models.TextChoices):
    RUNNING = "running", _("Running")
    PAUSED = "paused", _("Paused (pending, or with the bot)")
    STOPPED = "stopped", _("Stopped (solved or closed)")


class TicketSla(models.Model):
    """The SLA clock of one ticket: business time counted while the ticket waits on the agents, the targets
    it runs against (copied from the policy when planned), what was met, breached or is near breach.

    `elapsed` is the business time counted up to `elapsed_until`; a target is reached when the count
    reaches its length (for next response: the count when the customer wrote, plus its length).
    """

    ticket = models.OneToOneField(Ticket, primary_key=True, on_delete=models.CASCADE, related_name="sla")
    policy = models.ForeignKey(SlaPolicy, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    business_hours = models.ForeignKey(
        BusinessHours, null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
        help_text=_("The schedule the clock counts in; blank is 24/7."),
    )  # fmt: skip
    first_response_minutes = models.PositiveIntegerField(null=True, blank=True)
    next_response_minutes = models.PositiveIntegerField(null=True, blank=True)
    resolution_minutes = models.PositiveIntegerField(null=True, blank=True)
    near_breach_percent = models.PositiveSmallIntegerField(default=20)

    clock = models.CharField(max_length=8, choices=SlaClock.choices)
    elapsed = models.DurationField(default=timedelta)
    elapsed_until = models.DateTimeField()
    next_response_from = models.DurationField(
        null=True, blank=True, help_text=_("The count when the oldest unanswered customer message arrived.")
    )
    first_response_met_at = models.DateTimeField(null=True, blank=True)
    resolution_met_at = models.DateTimeField(null=True, blank=True)

    first_response_due_at = models.DateTimeField(null=True, blank=True)
    next_response_due_at = models.DateTimeField(null=True, blank=True)
    resolution_due_at = models.DateTimeField(null=True, blank=True)
    first_response_breached = models.BooleanField(default=False)
    next_response_breached = models.BooleanField(default=False)
    resolution_breached = models.BooleanField(default=False)
    first_response_near_breach = models.BooleanField(default=False)
    next_response_near_breach = models.BooleanField(default=False)
    resolution_near_breach = models.BooleanField(default=False)
    next_check_at = models.DateTimeField(
        null=True, blank=True, help_text=_("When the breach task looks at this clock next.")
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "ticket SLA"
        indexes = [models.Index(fields=["clock", "next_check_at"], name="ticket_sla_next_check")]

    def __str__(self) -> str:
        return f"SLA of ticket #{self.ticket_id}"

    def due_at(self, metric: str):
        return getattr(self, f"{metric}_due_at")

    @property
    def breached(self) -> list[str]:
        return [metric for metric in SlaMetric.values if getattr(self, f"{metric}_breached")]

    @property
    def near_breach(self) -> list[str]:
        return [metric for metric in SlaMetric.values if getattr(self, f"{metric}_near_breach")]
