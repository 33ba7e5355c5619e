import pytest
from django.contrib.contenttypes.models import ContentType

from customers.models import Customer, Identity, IdentityKind, Tag
from customers.services import MergeNotAllowed, add_identity, merge_customers, undo_merge
from helpdesk.models import AuditEntry, Message
from helpdesk.services.tickets import open_ticket, receive_customer_message
from tests.factories import CustomerFactory, OrganizationFactory, UserFactory
from tests.helpers import api_as

pytestmark = pytest.mark.django_db


@pytest.fixture
def duplicate_pair(inbox):
    """The same person known twice: by email (with a ticket) and by LINE (with another ticket)."""
    by_email = CustomerFactory(name="Hanako Tanaka", preferred_language="ja")
    add_identity(customer=by_email, kind=IdentityKind.EMAIL, value="hanako@example.jp")
    by_line = CustomerFactory(name="", organization=OrganizationFactory(name="Sample KK"))
    add_identity(customer=by_line, kind=IdentityKind.LINE, value="U" + "a" * 32)
    by_line.tags.add(Tag.objects.create(name="vip"))
    email_ticket = open_ticket(inbox=inbox, customer=by_email, subject="Invoice")
    receive_customer_message(ticket=email_ticket, body_text="Where is my invoice?")
    line_ticket = open_ticket(inbox=inbox, customer=by_line, subject="配送")
    receive_customer_message(ticket=line_ticket, body_text="荷物が届きません")
    return by_email, by_line, email_ticket, line_ticket


def test_merge_moves_identities_tickets_and_history_onto_the_target(duplicate_pair, agent):
    target, source, email_ticket, line_ticket = duplicate_pair

    merge = merge_customers(source=source, target=target, actor=agent, reason="same person")

    target.refresh_from_db()
    source.refresh_from_db()
    assert source.merged_into == target
    assert set(target.identities.values_list("kind", flat=True)) == {IdentityKind.EMAIL, IdentityKind.LINE}
    assert set(target.tickets.all()) == {email_ticket, line_ticket}
    assert set(Message.objects.filter(author_customer=target).values_list("ticket", flat=True)) == {
        email_ticket.pk,
        line_ticket.pk,
    }
    assert list(target.tags.values_list("name", flat=True)) == ["vip"]
    assert target.organization.name == "Sample KK"  # a blank target field is filled from the source
    assert target.name == "Hanako Tanaka"  # a filled one is kept
    assert merge.performed_by == agent


def test_undo_gives_the_source_back_exactly_what_moved(duplicate_pair, agent):
    target, source, email_ticket, line_ticket = duplicate_pair
    merge = merge_customers(source=source, target=target, actor=agent)

    undo_merge(merge=merge, actor=agent)

    target.refresh_from_db()
    source.refresh_from_db()
    merge.refresh_from_db()
    assert not source.is_merged
    assert list(source.tickets.all()) == [line_ticket]
    assert list(target.tickets.all()) == [email_ticket]
    assert list(source.identities.values_list("kind", flat=True)) == [IdentityKind.LINE]
    assert list(target.identities.values_list("kind", flat=True)) == [IdentityKind.EMAIL]
    assert not target.tags.exists()
    assert target.organization is None
    assert merge.undone_at is not None and merge.undone_by == agent
    with pytest.raises(MergeNotAllowed):
        undo_merge(merge=merge, actor=agent)


def test_merge_moves_the_portal_login_when_the_target_has_none(duplicate_pair):
    target, source, *_ = duplicate_pair
    login = UserFactory(username="hanako")
    Customer.objects.filter(pk=source.pk).update(user=login)
    source.refresh_from_db()

    merge = merge_customers(source=source, target=target)
    assert Customer.objects.get(user=login) == target

    undo_merge(merge=merge)
    assert Customer.objects.get(user=login) == source


def test_merges_that_make_no_sense_are_refused(duplicate_pair):
    target, source, *_ = duplicate_pair
    third = CustomerFactory()
    with pytest.raises(MergeNotAllowed):
        merge_customers(source=target, target=target)
    merge_customers(source=source, target=target)
    with pytest.raises(MergeNotAllowed):
        merge_customers(source=source, target=third)  # already merged away
    merge_customers(source=target, target=third)
    first = target.merges_as_target.get()
    with pytest.raises(MergeNotAllowed, match="undo that merge first"):
        undo_merge(merge=first)


def test_merge_and_undo_over_the_api_are_recorded_in_the_audit_trail(duplicate_pair, agent):
    target, source, *_ = duplicate_pair
    client = api_as(agent)

    response = client.post(f"/api/v1/customers/{target.pk}/merge/", {"source": source.pk, "reason": "duplicate"})
    assert response.status_code == 201, response.content
    merge_id = response.json()["id"]
    assert client.get(f"/api/v1/customers/{source.pk}/").status_code == 404  # merged away
    assert client.post(f"/api/v1/customers/{target.pk}/merge/", {"source": source.pk}).status_code == 400

    response = client.post(f"/api/v1/merges/{merge_id}/undo/")
    assert response.status_code == 200
    assert response.json()["undone_at"]
    assert client.post(f"/api/v1/merges/{merge_id}/undo/").status_code == 409

    actions = client.get(f"/api/v1/customers/{target.pk}/audit/").json()["results"]
    assert [entry["action"] for entry in actions][:2] == ["merge_undone", "merged"]
    assert actions[0]["actor"]["id"] == agent.pk
    customer_type = ContentType.objects.get_for_model(Customer)
    assert AuditEntry.objects.filter(content_type=customer_type, object_id=source.pk, action="unmerged").exists()


def test_adding_an_address_held_by_another_customer_over_the_api_is_a_conflict(duplicate_pair, agent):
    target, source, *_ = duplicate_pair
    response = api_as(agent).post(
        f"/api/v1/customers/{source.pk}/identities/", {"kind": "email", "value": "Hanako@Example.jp", "verified": True}
    )
    assert response.status_code == 409
    assert response.json()["customer"] == target.pk
    assert Identity.objects.get(value="hanako@example.jp").customer == target
    assert not Customer.objects.get(pk=source.pk).is_merged
