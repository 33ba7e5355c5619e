from datetime import UTC, timedelta

import django_filters
from django.core.exceptions import ValidationError
from django.db.models import Exists, OuterRef, Q

from customers.models import ChannelKind, Customer, Identity, IdentityKind, Language, Organization


class BoundedIsoDateTimeField(django_filters.fields.IsoDateTimeField):
    """An ISO 8601 instant that a database can hold: a real-world UTC offset (at most 14 hours) and a
    year from 1900, converted to UTC."""

    def to_python(self, value):
        parsed = super().to_python(value)
        if parsed is None:
            return None
        offset = parsed.utcoffset()
        if offset is not None and abs(offset) > timedelta(hours=14):
            raise ValidationError("The UTC offset must be at most 14 hours.", code="invalid")
        if parsed.year < 1900:
            raise ValidationError("The year must be 1900 or later.", code="invalid")
        return parsed.astimezone(UTC)


class BoundedIsoDateTimeFilter(django_filters.IsoDateTimeFilter):
    field_class = BoundedIsoDateTimeField


class CustomerFilter(django_filters.FilterSet):
    """Filters of the customer list API, also the language of saved segments."""

    q = django_filters.CharFilter(method="filter_search", label="Name or address contains")
    tag = django_filters.CharFilter(field_name="tags__name", label="Has tag")
    organization = django_filters.ModelChoiceFilter(queryset=Organization.objects.all())
    language = django_filters.ChoiceFilter(field_name="preferred_language", choices=Language.choices)
    channel = django_filters.ChoiceFilter(field_name="preferred_channel", choices=ChannelKind.choices)
    identity_kind = django_filters.ChoiceFilter(method="filter_identity_kind", choices=IdentityKind.choices)
    created_after = BoundedIsoDateTimeFilter(field_name="created_at", lookup_expr="gte")
    updated_since = BoundedIsoDateTimeFilter(field_name="updated_at", lookup_expr="gte")

    class Meta:
        model = Customer
        fields = []

    def filter_search(self, queryset, name, value):
        value = value.strip()
        if not value:
            return queryset
        by_identity = Identity.objects.filter(customer=OuterRef("pk"), value__icontains=value)
        return queryset.filter(Q(name__icontains=value) | Exists(by_identity))

    def filter_identity_kind(self, queryset, name, value):
        return queryset.filter(Exists(Identity.objects.filter(customer=OuterRef("pk"), kind=value)))

    @classmethod
    def errors_for(cls, params: dict) -> dict:
        """Validation errors of a parameter dict (unknown names included); empty when it is valid."""
        if not isinstance(params, dict):
            return {"__all__": ["Filters must be an object of parameter names to values."]}
        unknown = sorted(set(params) - set(cls.base_filters))
        if unknown:
            return {name: ["Unknown filter."] for name in unknown}
        filterset = cls(data={key: str(value) for key, value in params.items()}, queryset=Customer.objects.none())
        return {} if filterset.is_valid() else dict(filterset.errors)
