import multiprocessing

import pytest
from channels.layers import channel_layers
from django.conf import settings as django_settings
from django.core.cache import cache
from django.utils import translation

from helpdesk import configuration
from helpdesk.celery import app
from tests.factories import AgentFactory, CustomerFactory, IdentityFactory, InboxFactory, TeamFactory, UserFactory


def pytest_configure(config):
    # Server processes for browser and multi-process tests must not inherit asgiref's executor state.
    multiprocessing.set_start_method("spawn", force=True)


@pytest.fixture(autouse=True)
def _tasks_in_process(request):
    """Celery tasks run in the test's process, except in tests marked `celery_worker`, which get a
    real worker when REDIS_URL is set (tests/helpdesk/test_celery.py)."""
    eager = app.conf.task_always_eager
    app.conf.task_always_eager = not (request.node.get_closest_marker("celery_worker") and django_settings.REDIS_URL)
    yield
    app.conf.task_always_eager = eager


@pytest.fixture(autouse=True)
def _test_settings(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    cache.clear()  # rate-limit counters must not leak between tests (or runs, on Redis)
    configuration.forget()  # nor configuration cached from another test's database
    translation.activate("en")  # a Japanese request in an earlier test must not change this one's language


@pytest.fixture(autouse=True)
def _fresh_channel_layer():
    """Each test gets a channel layer of its own. A socket still receiving when an earlier test's event loop
    closed leaves that loop's receive lock in the layer, and the next test's sockets would fail on it."""
    channel_layers.backends.clear()
    yield
    channel_layers.backends.clear()


@pytest.fixture
def team(db):
    return TeamFactory(name="Tier 1")


@pytest.fixture
def restricted_team(db):
    return TeamFactory(name="Billing", restrict_to_team_tickets=True)


@pytest.fixture
def inbox(team):
    return InboxFactory(name="Support email", team=team)


@pytest.fixture
def agent(team):
    return AgentFactory(user__username="aiko", teams=[team]).user


@pytest.fixture
def restricted_agent(restricted_team):
    return AgentFactory(user__username="ben", teams=[restricted_team]).user


@pytest.fixture
def supervisor(db):
    return AgentFactory(user__username="sato", role="supervisor").user


@pytest.fixture
def customer(db):
    """A customer known by email, so answers to her have somewhere to go."""
    customer = CustomerFactory(name="田中 花子")
    IdentityFactory(customer=customer, kind="email", value="hanako@example.jp", verified=True)
    return customer


@pytest.fixture
def customer_user(customer):
    user = UserFactory(username="hanako")
    customer.user = user
    customer.save()
    return user
