import pytest
from django.core.exceptions import ValidationError

from customers.identities import normalize_identity
from customers.models import Customer, Identity, IdentityKind
from customers.services import IdentityConflict, add_identity, claim_identity, identify_customer
from tests.helpers import run_concurrently


@pytest.mark.parametrize(
    ("kind", "raw", "normalized"),
    [
        (IdentityKind.EMAIL, "  Hanako@Sample.Example.JP ", "hanako@sample.example.jp"),
        (IdentityKind.PHONE, "090-1234-5678", "+819012345678"),
        (IdentityKind.PHONE, "+81 (3) 1234-5678", "+81312345678"),
        (IdentityKind.PHONE, "+1 415 555 2671", "+14155552671"),
        (IdentityKind.LINE, "U4af4980629abcdef4af4980629abcdef", "U4af4980629abcdef4af4980629abcdef"),
        (IdentityKind.SOCIAL, "X:@AcmeSupport", "x:acmesupport"),
        (IdentityKind.EXTERNAL, "Shop:Order-123", "shop:Order-123"),
        (IdentityKind.CHAT_VISITOR, "visitor-abc-12345", "visitor-abc-12345"),
    ],
)
def test_addresses_are_normalized_so_one_address_names_one_identity(kind, raw, normalized):
    assert normalize_identity(kind, raw) == normalized


@pytest.mark.parametrize(
    ("kind", "raw"),
    [
        (IdentityKind.EMAIL, "not an address"),
        (IdentityKind.PHONE, "12"),
        (IdentityKind.PHONE, "call me maybe"),
        (IdentityKind.LINE, "u123"),
        (IdentityKind.SOCIAL, "acme"),
        (IdentityKind.EMAIL, "a\x00b@example.com"),
        (IdentityKind.EMAIL, "   "),
        ("pager", "123"),
    ],
)
def test_invalid_addresses_are_rejected(kind, raw):
    with pytest.raises(ValidationError):
        normalize_identity(kind, raw)


@pytest.mark.django_db
def test_the_same_address_written_differently_identifies_the_same_customer():
    first = identify_customer(kind=IdentityKind.PHONE, value="090-1234-5678", name="Hanako")
    again = identify_customer(kind=IdentityKind.PHONE, value="+81 90 1234 5678")

    assert first.created and not again.created
    assert again.customer == first.customer
    assert Customer.objects.count() == 1
    assert first.identity.display_value == "090-1234-5678"


@pytest.mark.django_db
def test_an_address_of_another_customer_is_a_conflict_and_changes_nothing():
    owner = identify_customer(kind=IdentityKind.EMAIL, value="hanako@example.jp").customer
    visitor = identify_customer(kind=IdentityKind.CHAT_VISITOR, value="visitor-0000001").customer

    # An unverified claim (an email typed into the chat widget) never joins the visitor to the owner.
    with pytest.raises(IdentityConflict) as conflict:
        add_identity(customer=visitor, kind=IdentityKind.EMAIL, value="HANAKO@example.jp")

    assert conflict.value.identity.customer_id == owner.pk
    assert not visitor.is_merged
    assert list(visitor.identities.values_list("kind", flat=True)) == [IdentityKind.CHAT_VISITOR]
    assert Identity.objects.get(value="hanako@example.jp").customer == owner


@pytest.mark.django_db
def test_adding_a_known_address_again_can_verify_it():
    result = identify_customer(kind=IdentityKind.EMAIL, value="john@acme.example")
    identity = add_identity(customer=result.customer, kind=IdentityKind.EMAIL, value="John@Acme.example", verified=True)

    assert identity.pk == result.identity.pk
    assert identity.verified


@pytest.mark.django_db
def test_a_verified_claim_joins_the_visitor_to_the_customer_who_holds_the_address():

    owner = identify_customer(kind=IdentityKind.EMAIL, value="hanako@example.jp").customer
    visitor = identify_customer(kind=IdentityKind.CHAT_VISITOR, value="visitor-0000002").customer

    with pytest.raises(IdentityConflict):
        claim_identity(customer=visitor, kind=IdentityKind.EMAIL, value="hanako@example.jp", verified=False)
    assert not Customer.objects.get(pk=visitor.pk).is_merged

    holder = claim_identity(customer=visitor, kind=IdentityKind.EMAIL, value="hanako@example.jp", verified=True)

    assert holder == owner
    assert Customer.objects.get(pk=visitor.pk).merged_into == owner
    assert set(owner.identities.values_list("kind", flat=True)) == {IdentityKind.EMAIL, IdentityKind.CHAT_VISITOR}


@pytest.mark.django_db
def test_claiming_a_free_address_adds_it():

    visitor = identify_customer(kind=IdentityKind.CHAT_VISITOR, value="visitor-0000003").customer
    assert claim_identity(customer=visitor, kind=IdentityKind.EMAIL, value="new@example.com", verified=False) == visitor
    assert visitor.identities.filter(kind=IdentityKind.EMAIL, verified=False).exists()


@pytest.mark.django_db(transaction=True)
def test_two_first_messages_from_one_new_address_at_once_create_one_customer():
    results = run_concurrently(
        [lambda: identify_customer(kind=IdentityKind.LINE, value="U" + "b" * 32, name="New") for _ in range(2)]
    )
    assert len({result.customer.pk for result in results}) == 1
    assert sorted(result.created for result in results) == [False, True]
    assert Customer.objects.count() == 1
