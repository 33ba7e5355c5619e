import factory
from django.contrib.auth import get_user_model

from customers.models import ChannelKind, Customer, Identity, IdentityKind, Organization
from helpdesk.models import AgentProfile, Inbox, Role, Team, Ticket

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
