import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from customers.events import CustomersMerged, subscribe, unsubscribe
from customers.models import Customer, Segment, Tag
from customers.selectors import segment_customers
from customers.services import add_identity, merge_customers, save_segment
from tests.factories import CustomerFactory, OrganizationFactory
from tests.helpers import api_as

pytestmark = pytest.mark.django_db


def test_an_agent_creates_a_customer_with_identities_and_edits_it(agent):
    client = api_as(agent)
    response = client.post(
        "/api/v1/customers/",
        {
            "name": "鈴木 一郎",
            "preferred_language": "ja",
            "identities": [{"kind": "phone", "value": "03-1234-5678"}, {"kind": "email", "value": "Ichiro@Example.JP"}],
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert sorted((i["kind"], i["value"]) for i in body["identities"]) == [
        ("email", "ichiro@example.jp"),
        ("phone", "+81312345678"),
    ]

    patched = client.patch(f"/api/v1/customers/{body['id']}/", {"preferred_channel": "line"}, format="json")
    assert patched.json()["preferred_channel"] == "line"
    audit = client.get(f"/api/v1/customers/{body['id']}/audit/").json()["results"]
    assert audit[0]["changes"] == {"preferred_channel": ["", "line"]}


def test_a_customer_with_an_invalid_identity_is_not_created_at_all(agent):
    response = api_as(agent).post(
        "/api/v1/customers/",
        {
            "name": "Half",
            "identities": [{"kind": "email", "value": "ok@example.com"}, {"kind": "phone", "value": "12"}],
        },
        format="json",
    )
    assert response.status_code == 400
    assert not Customer.objects.filter(name="Half").exists()


def test_customer_list_filters_and_a_fixed_query_count(agent, django_assert_num_queries):
    acme = OrganizationFactory(name="Acme")
    vip = Tag.objects.create(name="vip")
    for n in range(12):
        customer = CustomerFactory(
            name=f"Acme person {n}", organization=acme, preferred_language="ja" if n % 2 else "en"
        )
        add_identity(customer=customer, kind="email", value=f"p{n}@acme.example")
        if n % 3 == 0:
            customer.tags.add(vip)
    client = api_as(agent)

    def names(query):
        return {c["name"] for c in client.get(f"/api/v1/customers/?{query}").json()["results"]}

    assert names("tag=vip&language=ja") == {"Acme person 3", "Acme person 9"}
    assert names("q=p11@acme") == {"Acme person 11"}
    assert len(names(f"organization={acme.pk}&identity_kind=email")) == 12
    assert client.get("/api/v1/customers/?language=fr").status_code == 400
    assert client.get("/api/v1/customers/?shoe_size=42").status_code == 400

    with CaptureQueriesContext(connection) as small:
        client.get("/api/v1/customers/?page_size=2")
    with django_assert_num_queries(len(small.captured_queries)):
        assert len(client.get("/api/v1/customers/?page_size=12").json()["results"]) == 12


def test_segments_are_validated_saved_filters(agent):
    vip = Tag.objects.create(name="vip")
    wanted = CustomerFactory(name="Hanako", preferred_language="ja")
    wanted.tags.add(vip)
    CustomerFactory(name="John", preferred_language="en").tags.add(vip)
    client = api_as(agent)

    bad = client.post("/api/v1/segments/", {"name": "Bad", "filters": {"colour": "red"}}, format="json")
    assert bad.status_code == 400
    assert "filters" in bad.json()
    created = client.post(
        "/api/v1/segments/", {"name": "Japanese VIPs", "filters": {"tag": "vip", "language": "ja"}}, format="json"
    )
    assert created.status_code == 201, created.content
    members = client.get(f"/api/v1/segments/{created.json()['id']}/customers/").json()["results"]
    assert [member["name"] for member in members] == ["Hanako"]


def test_a_segment_whose_filter_went_stale_matches_nobody(agent):
    acme = OrganizationFactory(name="Acme")
    CustomerFactory(organization=acme)
    CustomerFactory()
    segment = save_segment(segment=Segment(name="Acme people", filters={"organization": acme.pk}))
    assert segment_customers(segment).count() == 1

    acme.delete()

    assert segment_customers(segment).count() == 0


def test_token_authentication_works_and_a_bad_token_is_refused(agent):
    token = Token.objects.create(user=agent)
    client = APIClient()
    assert client.get("/api/v1/tickets/", HTTP_AUTHORIZATION="Token wrong").status_code == 401
    assert client.get("/api/v1/tickets/", HTTP_AUTHORIZATION=f"Token {token.key}").status_code == 200
    assert client.get("/api/v1/tickets/").status_code == 401


def test_customers_merged_is_published_after_commit(django_capture_on_commit_callbacks):
    source, target = CustomerFactory(), CustomerFactory()
    received = []
    subscribe(CustomersMerged, received.append)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            merge = merge_customers(source=source, target=target)
            assert received == []
    finally:
        unsubscribe(CustomersMerged, received.append)
    assert [(e.merge_id, e.source_id, e.target_id, e.undone) for e in received] == [
        (merge.pk, source.pk, target.pk, False)
    ]
