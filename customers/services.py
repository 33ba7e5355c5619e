"""Every write to customers: identify, update, add identities, merge and undo a merge."""

from __future__ import annotations

import dataclasses
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import IntegrityError, models, transaction
from django.utils import timezone

from customers.events import CustomerChanged, CustomersMerged, publish, publish_all
from customers.identities import normalize_identity
from customers.models import Customer, CustomerMerge, CustomerNote, Identity, Segment

EDITABLE_FIELDS = ("name", "organization", "preferred_language", "preferred_channel")
# Blank target fields that a merge fills from the source (and an undo empties again).
MERGE_FILLED_FIELDS = ("name", "organization_id", "preferred_language", "preferred_channel")


class IdentityConflict(Exception):
    """The address already names another customer; only an explicit merge may join them."""

    def __init__(self, identity: Identity):
        super().__init__(f"{identity} belongs to customer #{identity.customer_id}")
        self.identity = identity


class MergeNotAllowed(Exception):
    pass


@dataclasses.dataclass(frozen=True)
class IdentifiedCustomer:
    customer: Customer
    identity: Identity
    created: bool


def _actor_id(actor: AbstractBaseUser | None) -> int | None:
    return actor.pk if actor is not None else None


def _changed(customer: Customer, actor: AbstractBaseUser | None, action: str, changes: dict) -> None:
    publish(CustomerChanged(customer_id=customer.pk, actor_id=_actor_id(actor), action=action, changes=changes))


@dataclasses.dataclass(frozen=True)
class Caller:
    """Someone who wrote in: a channel address, and what they call themselves."""

    kind: str
    value: str
    name: str = ""
    language: str = ""
    verified: bool = False


def identify_customer(
    *, kind: str, value: str, name: str = "", language: str = "", verified: bool = False
) -> IdentifiedCustomer:
    """The customer this channel address belongs to, created with the identity if it is new.

    Safe under concurrency: two first messages from one new address at once yield one customer.
    """
    return identify_customers([Caller(kind, value, name, language, verified)])[0]


@transaction.atomic
def identify_customers(callers: list[Caller]) -> list[IdentifiedCustomer]:
    """`identify_customer` for many callers at once (a batch of inbound messages), in a few statements.

    Addresses are normalized first (ValidationError for one that is not an address of its kind). New
    addresses get a customer each, inserted in one go; an address another transaction registered meanwhile
    (the unique index makes us wait for it) resolves to that transaction's customer."""
    keys = [(caller.kind, normalize_identity(caller.kind, caller.value)) for caller in callers]
    known = _identities(set(keys))
    new_keys = sorted(set(keys) - known.keys())  # one order for every transaction: no deadlocks on the index
    created: set[tuple[str, str]] = set()
    if new_keys:
        first_caller = {}
        for key, caller in zip(keys, callers, strict=True):
            first_caller.setdefault(key, caller)
        customers = Customer.objects.bulk_create(
            [
                Customer(name=first_caller[key].name.strip()[:200], preferred_language=first_caller[key].language)
                for key in new_keys
            ]
        )
        Identity.objects.bulk_create(
            [
                Identity(
                    customer=customer,
                    kind=kind,
                    value=value,
                    display_value=first_caller[(kind, value)].value.strip()[:320],
                    verified=first_caller[(kind, value)].verified,
                )
                for customer, (kind, value) in zip(customers, new_keys, strict=True)
            ],
            ignore_conflicts=True,
        )
        registered = _identities(set(new_keys))
        ours = {customer.pk for customer in customers}
        created = {key for key, identity in registered.items() if identity.customer_id in ours}
        lost = ours - {registered[key].customer_id for key in created}
        if lost:
            Customer.objects.filter(pk__in=lost).delete()  # their addresses went to a concurrent transaction
        known.update(registered)
        publish_all(
            [
                CustomerChanged(
                    customer_id=known[key].customer_id,
                    actor_id=None,
                    action="created",
                    changes={"identity": str(known[key])},
                )
                for key in sorted(created)
            ]
        )
    return [
        IdentifiedCustomer(customer=known[key].customer, identity=known[key], created=key in created) for key in keys
    ]


def _identities(keys: set[tuple[str, str]]) -> dict[tuple[str, str], Identity]:
    by_kind: dict[str, list[str]] = {}
    for kind, value in keys:
        by_kind.setdefault(kind, []).append(value)
    if not by_kind:
        return {}
    query = models.Q()
    for kind, values in by_kind.items():
        query |= models.Q(kind=kind, value__in=values)
    found = Identity.objects.select_related("customer", "customer__merged_into").filter(query)
    return {(identity.kind, identity.value): identity for identity in found}


@transaction.atomic
def create_customer(
    *, actor: AbstractBaseUser | None = None, identities: list[dict] | tuple = (), **fields: Any
) -> Customer:
    unknown = set(fields) - set(EDITABLE_FIELDS)
    if unknown:
        raise ValidationError(f"Unknown customer fields: {', '.join(sorted(unknown))}")
    customer = Customer(**fields)
    customer.full_clean(exclude=["user"])
    customer.save()
    _changed(customer, actor, "created", {field: [None, _plain(getattr(customer, field))] for field in fields})
    for identity in identities:
        add_identity(customer=customer, actor=actor, **identity)
    return customer


@transaction.atomic
def update_customer(*, customer: Customer, actor: AbstractBaseUser | None = None, **fields: Any) -> Customer:
    unknown = set(fields) - set(EDITABLE_FIELDS)
    if unknown:
        raise ValidationError(f"Unknown customer fields: {', '.join(sorted(unknown))}")
    customer = Customer.objects.select_for_update().get(pk=customer.pk)
    changes = {}
    for field, value in fields.items():
        old = getattr(customer, field)
        if old != value:
            changes[field] = [_plain(old), _plain(value)]
            setattr(customer, field, value)
    if changes:
        customer.full_clean(exclude=["user"])
        customer.save()
        _changed(customer, actor, "updated", changes)
    return customer


def _plain(value: Any) -> Any:
    return value.pk if isinstance(value, models.Model) else value


@transaction.atomic
def add_identity(
    *,
    customer: Customer,
    kind: str,
    value: str,
    verified: bool = False,
    actor: AbstractBaseUser | None = None,
) -> Identity:
    """Give `customer` another address. An address held by someone else raises IdentityConflict."""
    normalized = normalize_identity(kind, value)
    existing = Identity.objects.select_for_update().filter(kind=kind, value=normalized).first()
    if existing is not None:
        if existing.customer_id != customer.pk:
            raise IdentityConflict(existing)
        if verified and not existing.verified:
            existing.verified = True
            existing.save(update_fields=["verified"])
            _changed(customer, actor, "identity_verified", {"identity": str(existing)})
        return existing
    try:
        with transaction.atomic():
            identity = Identity.objects.create(
                customer=customer, kind=kind, value=normalized, display_value=value.strip()[:320], verified=verified
            )
    except IntegrityError:
        raise IdentityConflict(Identity.objects.get(kind=kind, value=normalized)) from None
    _changed(customer, actor, "identity_added", {"identity": str(identity), "verified": verified})
    return identity


@transaction.atomic
def claim_identity(
    *, customer: Customer, kind: str, value: str, verified: bool, actor: AbstractBaseUser | None = None
) -> Customer:
    """`customer` says this address is theirs; returns the customer who now holds the conversation.

    A free address is simply added. An address that already names another customer joins the two only
    when the claim is verified (a confirmed address, a login the site vouches for): the claimant is then
    merged into the holder. An unverified claim on someone else's address raises IdentityConflict and
    changes nothing, so typing an email into a chat never opens another customer's history.
    """
    try:
        add_identity(customer=customer, kind=kind, value=value, verified=verified, actor=actor)
    except IdentityConflict as conflict:
        if not verified:
            raise
        holder = conflict.identity.customer
        merge_customers(source=customer, target=holder, actor=actor, reason=f"verified {kind} claim")
        return Customer.objects.get(pk=holder.pk)
    return customer


def record_customer_event(*, customer: Customer, action: str, detail: dict | None = None) -> None:
    """Something a channel told us about the customer (a LINE follow or unfollow), for the audit trail."""
    _changed(customer, None, action, detail or {})


def mark_identity_bouncing(*, kind: str, value: str) -> Identity | None:
    """Mail to this address came back: remember it, so agents see why the customer is not answering."""
    try:
        normalized = normalize_identity(kind, value)
    except ValidationError:
        return None
    identity = Identity.objects.filter(kind=kind, value=normalized).first()
    if identity is not None and identity.bouncing_since is None:
        identity.bouncing_since = timezone.now()
        identity.save(update_fields=["bouncing_since"])
        _changed(identity.customer, None, "identity_bouncing", {"identity": str(identity)})
    return identity


def clear_identity_bouncing(*, identity: Identity) -> None:
    """The customer wrote from the address again: it works."""
    if identity.bouncing_since is not None:
        Identity.objects.filter(pk=identity.pk).update(bouncing_since=None)
        identity.bouncing_since = None


@transaction.atomic
def remove_identity(*, identity: Identity, actor: AbstractBaseUser | None = None) -> None:
    customer = identity.customer
    description = str(identity)
    identity.delete()
    _changed(customer, actor, "identity_removed", {"identity": description})


@transaction.atomic
def add_customer_note(*, customer: Customer, author: AbstractBaseUser | None, body: str) -> CustomerNote:
    body = body.strip()
    if not body:
        raise ValidationError({"body": "A note cannot be empty."})
    note = CustomerNote.objects.create(customer=customer, author=author, body=body)
    _changed(customer, author, "note_added", {"note_id": note.pk})
    return note


@transaction.atomic
def save_segment(*, segment: Segment) -> Segment:
    from customers.filters import CustomerFilter

    errors = CustomerFilter.errors_for(segment.filters)
    if errors:
        raise ValidationError(
            {
                "filters": [
                    message if name == "__all__" else f"{name}: {message}"
                    for name, messages in errors.items()
                    for message in messages
                ]
            }
        )
    segment.full_clean()
    segment.save()
    return segment


# --- Merge ------------------------------------------------------------------------------------------


def _movable_relations() -> list[models.ForeignKey]:
    """Every foreign key to Customer whose rows follow a customer into a merge.

    Found from the model registry, so relations that later apps add (tickets, forum posts, survey
    answers) move without this app knowing them. A model opts out with `keeps_customer_on_merge = True`.
    """
    relations = []
    for relation in Customer._meta.related_objects:
        if relation.many_to_many or relation.one_to_one:
            continue
        model = relation.related_model
        if model in (Customer, CustomerMerge) or getattr(model, "keeps_customer_on_merge", False):
            continue
        relations.append(relation.field)
    return relations


def _relation_key(field: models.ForeignKey) -> str:
    return f"{field.model._meta.label}.{field.name}"


@transaction.atomic
def merge_customers(
    *, source: Customer, target: Customer, actor: AbstractBaseUser | None = None, reason: str = ""
) -> CustomerMerge:
    """Move everything of `source` onto `target`; `source` stays behind, marked as merged, for the undo."""
    if source.pk == target.pk:
        raise MergeNotAllowed("A customer cannot be merged into itself.")
    locked = {c.pk: c for c in Customer.objects.select_for_update().filter(pk__in=[source.pk, target.pk])}
    source, target = locked[source.pk], locked[target.pk]
    if source.is_merged or target.is_merged:
        raise MergeNotAllowed("One of these customers has already been merged into another.")

    moved: dict[str, Any] = {"relations": {}, "filled": {}, "tags": [], "user": None}
    for field in _movable_relations():
        ids = list(field.model._base_manager.filter(**{field.name: source}).values_list("pk", flat=True))
        if ids:
            field.model._base_manager.filter(pk__in=ids).update(**{field.name: target})
            moved["relations"][_relation_key(field)] = ids

    target_tags = set(target.tags.values_list("pk", flat=True))
    new_tags = [pk for pk in source.tags.values_list("pk", flat=True) if pk not in target_tags]
    target.tags.add(*new_tags)
    moved["tags"] = new_tags

    for field in MERGE_FILLED_FIELDS:
        if not getattr(target, field) and getattr(source, field):
            setattr(target, field, getattr(source, field))
            moved["filled"][field] = getattr(source, field)
    if source.user_id and not target.user_id:
        moved["user"] = source.user_id
        user_id = source.user_id
        source.user = None
        source.save(update_fields=["user"])
        target.user_id = user_id
    target.save()

    source.merged_into = target
    source.save(update_fields=["merged_into", "updated_at"])
    merge = CustomerMerge.objects.create(
        source=source, target=target, performed_by=actor, reason=reason[:200], moved=moved
    )
    _changed(target, actor, "merged", {"merged_from": source.pk, "merge_id": merge.pk})
    _changed(source, actor, "merged_away", {"merged_into": target.pk, "merge_id": merge.pk})
    publish(CustomersMerged(merge_id=merge.pk, source_id=source.pk, target_id=target.pk, actor_id=_actor_id(actor)))
    return merge


@transaction.atomic
def undo_merge(*, merge: CustomerMerge, actor: AbstractBaseUser | None = None) -> CustomerMerge:
    """Give the source back what the merge moved (rows that still sit on the target)."""
    merge = CustomerMerge.objects.select_for_update().get(pk=merge.pk)
    if merge.undone_at is not None:
        raise MergeNotAllowed("This merge has already been undone.")
    locked = {c.pk: c for c in Customer.objects.select_for_update().filter(pk__in=[merge.source_id, merge.target_id])}
    source, target = locked[merge.source_id], locked[merge.target_id]
    if target.is_merged:
        raise MergeNotAllowed("The target has since been merged into another customer; undo that merge first.")

    relations = {_relation_key(field): field for field in _movable_relations()}
    for key, ids in merge.moved.get("relations", {}).items():
        field = relations.get(key)
        if field is not None:
            field.model._base_manager.filter(pk__in=ids, **{field.name: target}).update(**{field.name: source})

    target.tags.remove(*merge.moved.get("tags", []))
    for field, value in merge.moved.get("filled", {}).items():
        if getattr(target, field) == value:
            setattr(target, field, Customer._meta.get_field(field.removesuffix("_id")).get_default())
    user_id = merge.moved.get("user")
    if user_id and target.user_id == user_id:
        target.user = None
        target.save()
        source.user_id = user_id
    else:
        target.save()
    source.merged_into = None
    source.save()

    merge.undone_at = timezone.now()
    merge.undone_by = actor
    merge.save(update_fields=["undone_at", "undone_by"])
    _changed(target, actor, "merge_undone", {"merge_id": merge.pk, "restored": source.pk})
    _changed(source, actor, "unmerged", {"merge_id": merge.pk})
    publish(
        CustomersMerged(
            merge_id=merge.pk, source_id=source.pk, target_id=target.pk, actor_id=_actor_id(actor), undone=True
        )
    )
    return merge
