import factory
from django.contrib.auth import get_user_model

from customers.models import ChannelKind, Customer, Identity, IdentityKind, Organization, Tag
from helpdesk.models import (
    AgentProfile,
    BusinessHours,
    BusinessPeriod,
    Holiday,
    Inbox,
    Role,
    RoutingRule,
    SlaPolicy,
    SlaTarget,
    Team,
    Ticket,
)

PASSWORD = "correct horse battery staple"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ["username"]

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda user: f"{user.username}@example.com")
    password = factory.django.Password(PASSWORD)


class TeamFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Team

    name = factory.Sequence(lambda n: f"Team {n}")


class AgentFactory(factory.django.DjangoModelFactory):
    """An agent profile with its user; `teams=[...]` joins teams."""

    class Meta:
        model = AgentProfile
        skip_postgeneration_save = True

    user = factory.SubFactory(UserFactory)
    role = Role.AGENT
    display_name = factory.Sequence(lambda n: f"Agent {n}")

    @factory.post_generation
    def teams(self, create, teams, **kwargs):
        if create and teams:
            self.teams.add(*teams)


class InboxFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Inbox

    name = factory.Sequence(lambda n: f"Inbox {n}")
    kind = ChannelKind.EMAIL


class OrganizationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Organization

    name = factory.Sequence(lambda n: f"Organization {n}")


class CustomerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Customer

    name = factory.Sequence(lambda n: f"Customer {n}")


class IdentityFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Identity

    customer = factory.SubFactory(CustomerFactory)
    kind = IdentityKind.EMAIL
    value = factory.Sequence(lambda n: f"customer{n}@example.com")


class TicketFactory(factory.django.DjangoModelFactory):
    """A bare ticket row (no history); tests that need a timeline post through the services."""

    class Meta:
        model = Ticket

    inbox = factory.SubFactory(InboxFactory)
    customer = factory.SubFactory(CustomerFactory)
    subject = factory.Sequence(lambda n: f"Question {n}")
    channel = factory.LazyAttribute(lambda ticket: ticket.inbox.kind)
    team = factory.LazyAttribute(lambda ticket: ticket.inbox.team)


class BusinessHoursFactory(factory.django.DjangoModelFactory):
    """`periods=[(weekday, start, end), ...]` and `holidays=[date, ...]` add those rows."""

    class Meta:
        model = BusinessHours
        skip_postgeneration_save = True

    name = factory.Sequence(lambda n: f"Hours {n}")
    time_zone = "UTC"

    @factory.post_generation
    def periods(self, create, periods, **kwargs):
        if create and periods:
            BusinessPeriod.objects.bulk_create(
                BusinessPeriod(schedule=self, weekday=weekday, start_time=start, end_time=end)
                for weekday, start, end in periods
            )

    @factory.post_generation
    def holidays(self, create, holidays, **kwargs):
        if create and holidays:
            Holiday.objects.bulk_create(Holiday(schedule=self, date=day) for day in holidays)


class SlaPolicyFactory(factory.django.DjangoModelFactory):
    """`targets={"normal": (first response, next response, resolution), ...}` in minutes (None: no target)."""

    class Meta:
        model = SlaPolicy
        skip_postgeneration_save = True

    name = factory.Sequence(lambda n: f"SLA {n}")

    @factory.post_generation
    def targets(self, create, targets, **kwargs):
        for priority, (first, following, resolution) in (targets or {}).items():
            SlaTarget.objects.create(
                policy=self,
                priority=priority,
                first_response_minutes=first,
                next_response_minutes=following,
                resolution_minutes=resolution,
            )


class RoutingRuleFactory(factory.django.DjangoModelFactory):
    """`add_tags=["vip", ...]` adds tags by name."""

    class Meta:
        model = RoutingRule
        skip_postgeneration_save = True

    name = factory.Sequence(lambda n: f"Rule {n}")
    position = factory.Sequence(lambda n: n)

    @factory.post_generation
    def add_tags(self, create, names, **kwargs):
        if create and names:
            self.add_tags.add(*(Tag.objects.get_or_create(name=name)[0] for name in names))
