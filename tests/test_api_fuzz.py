"""A hostile caller against the whole REST API: generated requests from the OpenAPI schema must get a
documented answer (never a server error), and every response must match the schema."""

import os

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from rest_framework.authtoken.models import Token
from schemathesis.checks import positive_data_acceptance

from helpdesk.services.tickets import open_ticket, receive_customer_message
from helpdesk.wsgi import application
from tests.factories import AgentFactory, CustomerFactory, InboxFactory

schema = schemathesis.openapi.from_wsgi("/api/schema/", application)
# "Schema-valid data must be accepted" does not hold for a schema that cannot say which ids exist: an
# unknown id in a filter is a documented 400 here, not something to ignore.


@pytest.fixture
def auth_headers(db):
    """A supervisor's token, and a little data so that some generated ids exist."""
    user = AgentFactory(user__username="fuzzer", role="supervisor").user
    for _ in range(3):
        ticket = open_ticket(inbox=InboxFactory(), customer=CustomerFactory(), subject="fuzz")
        receive_customer_message(ticket=ticket, body_text="hello")
    # The WSGI handler would close the test transaction's connection after each request.
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield {"Authorization": f"Token {Token.objects.create(user=user).key}"}
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@schema.parametrize()
# Derandomized so CI is repeatable; explore more with HELPDESK_FUZZ_EXAMPLES=500 HELPDESK_FUZZ_RANDOM=1.
@settings(
    max_examples=int(os.environ.get("HELPDESK_FUZZ_EXAMPLES", "15")),
    derandomize=not os.environ.get("HELPDESK_FUZZ_RANDOM"),
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
def test_api_answers_generated_requests_as_documented(case, auth_headers):
    case.call_and_validate(headers=auth_headers, excluded_checks=[positive_data_acceptance])
