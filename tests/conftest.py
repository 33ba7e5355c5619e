import multiprocessing

import pytest
from django.core.cache import cache

from tests.factories import AgentFactory, CustomerFactory, InboxFactory, TeamFactory, UserFactory


def pytest_configure(config):
    # Server processes for browser and multi-process tests must not inherit asgiref's executor state.
    multiprocessing.set_start_method("spawn", force=True)


@pytest.fixture(autouse=True)
def _test_settings(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    cache.clear()  # rate-limit counters must not leak between tests (or runs, on Redis)


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
    return CustomerFactory(name="田中 花子")


@pytest.fixture
def customer_user(customer):
    user = UserFactory(username="hanako")
    customer.user = user
    customer.save()
    return user
