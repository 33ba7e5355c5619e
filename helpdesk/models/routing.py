"""Routing rules for new tickets, and the per-team pointer of automatic assignment.

`helpdesk/services/routing.py` applies them; docs/routing-and-sla.md explains the semantics.
"""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from customers.models import ChannelKind, Language, Organization, Tag
from helpdesk.models.core import AssignmentStrategy, Inbox, Priority, Team


class RoutingRule(models.Model):
    """If every condition given holds for a new ticket, apply the actions given.

    Rules are tried in `position` order; a matching rule with `stop_processing` (the default) ends the
    routing, so the first match wins unless a rule says to go on.
    """

    name = models.CharField(max_length=120)
    position = models.PositiveIntegerField(default=0, help_text=_("Lower positions are tried first."))
    is_active = models.BooleanField(default=True)

    # Conditions. A deleted inbox, organization or tag deletes the rules that test it: leaving the
    # condition blank instead would silently widen the rule to every ticket.
    inbox = models.ForeignKey(Inbox, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    channel = models.CharField(max_length=16, choices=ChannelKind.choices, blank=True)
    language = models.CharField(
        max_length=8, choices=Language.choices, blank=True, help_text=_("The customer's preferred language.")
    )
    keywords = models.TextField(
        blank=True,
        help_text=_(
            "Comma- or line-separated. Matches when any of them appears in the subject or the first message, "
            "ignoring case and full-width/half-width differences (返金, refund)."
        ),
    )
    organization = models.ForeignKey(
        Organization, null=True, blank=True, on_delete=models.CASCADE, related_name="+",
        help_text=_("The customer belongs to this organization."),
    )  # fmt: skip
    customer_tag = models.ForeignKey(
        Tag, null=True, blank=True, on_delete=models.CASCADE, related_name="+",
        help_text=_("The customer has this tag."),
    )  # fmt: skip

    # Actions.
    set_team = models.ForeignKey(Team, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    set_priority = models.CharField(max_length=8, choices=Priority.choices, blank=True)
    add_tags = models.ManyToManyField(Tag, blank=True, related_name="+")
    assign_to = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        limit_choices_to={"agent_profile__isnull": False},
        help_text=_("A specific agent (a member of the ticket's team, if it has one)."),
    )
    assign_by = models.CharField(
        max_length=16,
        choices=AssignmentStrategy.choices,
        blank=True,
        help_text=_("How to pick an agent of the team when nobody is assigned; blank uses the team's strategy."),
    )
    stop_processing = models.BooleanField(default=True, help_text=_("Stop at this rule when it matches."))
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["position", "id"]

    def __str__(self) -> str:
        return self.name


class TeamAssignmentCursor(models.Model):
    """Who of the team was assigned last. Automatic assignment locks this row, so two tickets routed at
    the same moment never both go to the same agent or past an agent's capacity."""

    team = models.OneToOneField(Team, primary_key=True, on_delete=models.CASCADE, related_name="assignment_cursor")
    last_assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    last_assigned_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "team assignment cursor"

    def __str__(self) -> str:
        return f"{self.team}: last {self.last_assignee or 'nobody'}"
