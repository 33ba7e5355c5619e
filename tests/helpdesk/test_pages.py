"""The server-rendered pages and the admin, as agents, customers and admins use them."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import call_command
from django.urls import reverse

from customers.models import Customer, Identity
from helpdesk.models import Message, Ticket
from helpdesk.services.tickets import add_internal_note, open_ticket, receive_customer_message
from tests.factories import PASSWORD, UserFactory

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.django_db


@pytest.fixture
def ticket(inbox, customer, agent):
    ticket = open_ticket(inbox=inbox, customer=customer, subject="配送について")
    receive_customer_message(ticket=ticket, body_text="荷物はいつ届きますか？")
    add_internal_note(ticket=ticket, agent=agent, body_text="Check the Osaka depot")
    return ticket


def test_login_page_and_login_with_a_password(client, agent):
    assert client.get(reverse("login")).status_code == 200
    response = client.post(reverse("login"), {"username": agent.username, "password": PASSWORD})
    assert response.status_code == 302
    assert client.get(reverse("home")).status_code == 200


def test_anonymous_visitors_are_sent_to_login(client, ticket):
    for url in (reverse("home"), reverse("ticket-page", args=[ticket.pk])):
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("login"))


def test_an_agent_reads_the_inbox_and_answers_a_ticket(client, agent, ticket):
    client.force_login(agent)
    inbox_page = client.get(reverse("home"), {"status": "new"}).content.decode()
    assert "配送について" in inbox_page

    url = reverse("ticket-page", args=[ticket.pk])
    page = client.get(url).content.decode()
    assert "荷物はいつ届きますか？" in page and "Check the Osaka depot" in page

    response = client.post(url, {"kind": "reply", "body": "明日お届けします", "status": "pending"})
    assert response.status_code == 302
    ticket.refresh_from_db()
    assert ticket.status == "pending"
    assert ticket.messages.filter(author_type="agent", body_text="明日お届けします").exists()


def test_a_customer_sees_only_their_requests_without_internal_notes(client, customer_user, ticket, inbox):
    someone_else = open_ticket(inbox=inbox, customer=Customer.objects.create(name="Other"), subject="Not yours")
    client.force_login(customer_user)

    assert "Not yours" not in client.get(reverse("home")).content.decode()
    page = client.get(reverse("ticket-page", args=[ticket.pk])).content.decode()
    assert "荷物はいつ届きますか？" in page
    assert "Check the Osaka depot" not in page
    assert client.get(reverse("ticket-page", args=[someone_else.pk])).status_code == 404

    client.post(reverse("ticket-page", args=[ticket.pk]), {"body": "よろしくお願いします"})
    assert ticket.messages.last().author_type == "customer"


def test_pages_speak_japanese(client, agent, ticket):
    client.force_login(agent)
    client.post(reverse("set_language"), {"language": "ja", "next": "/"})
    page = client.get(reverse("home")).content.decode()
    assert '<html lang="ja">' in page


def test_every_admin_page_opens(client):
    call_command("demo", stdout=open(os.devnull, "w"))  # noqa: SIM115
    admin = UserFactory(username="root", is_staff=True, is_superuser=True)
    client.force_login(admin)
    from django.contrib import admin as django_admin

    for model in django_admin.site._registry:
        info = model._meta.app_label, model._meta.model_name
        changelist = client.get(reverse("admin:{}_{}_changelist".format(*info)), {"q": "a"})
        assert changelist.status_code == 200, info
        first = model._default_manager.first()
        if first is not None:
            assert client.get(reverse("admin:{}_{}_change".format(*info), args=[first.pk])).status_code == 200, info


def test_admin_actions_go_through_the_services(client, ticket, agent):
    admin = UserFactory(username="root", is_staff=True, is_superuser=True)
    client.force_login(admin)
    url = reverse("admin:helpdesk_ticket_changelist")

    client.post(url, {"action": "set_status_solved", "_selected_action": [ticket.pk]})
    ticket.refresh_from_db()
    assert ticket.status == "solved"
    assert ticket.messages.filter(event="status_changed", author_user=admin).exists()

    duplicate = Customer.objects.create(name="Hanako again")
    client.post(
        reverse("admin:customers_customer_changelist"),
        {"action": "merge_into_oldest", "_selected_action": [ticket.customer_id, duplicate.pk]},
    )
    duplicate.refresh_from_db()
    assert duplicate.merged_into_id == ticket.customer_id


def test_demo_data_loads_twice_without_duplicating_anything():
    call_command("demo", stdout=open(os.devnull, "w"))  # noqa: SIM115
    counts = [Ticket.objects.count(), Message.objects.count(), Customer.objects.count(), Identity.objects.count()]
    call_command("demo", stdout=open(os.devnull, "w"))  # noqa: SIM115
    assert [
        Ticket.objects.count(),
        Message.objects.count(),
        Customer.objects.count(),
        Identity.objects.count(),
    ] == counts
    assert set(Ticket.objects.values_list("channel", flat=True)) >= {"email", "chat", "line", "phone"}
    chat = Ticket.objects.get(channel="chat")
    assert set(chat.messages.values_list("channel", flat=True)) >= {"chat", "email", "line"}
    assert set(chat.messages.values_list("author_type", flat=True)) == {"customer", "bot", "agent", "system"}


def test_deploy_check_is_clean_with_production_settings(tmp_path):
    env = {
        **os.environ,
        "SECRET_KEY": "x7!k2" * 12,
        "ALLOWED_HOSTS": "help.example.com",
        "HTTPS": "1",
        "DEBUG": "0",
        "HELPDESK_VAR_DIR": str(tmp_path),
    }
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_system_events_read_in_the_readers_language(client, agent, ticket):
    from helpdesk.services.tickets import change_status

    change_status(ticket=ticket, status="pending", actor=agent)
    event = ticket.messages.get(event="status_changed")
    assert event.body_text == "Status changed from New to Pending (waiting on the customer)"  # stored in English

    client.force_login(agent)
    page = client.get(reverse("ticket-page", args=[ticket.pk]), HTTP_ACCEPT_LANGUAGE="ja").content.decode()
    assert "ステータスを「新規」から「保留中（お客様の返信待ち）」に変更しました" in page
