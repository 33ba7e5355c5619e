"""Reads of customers shared by pages, the API, segments and later apps."""

from django.db.models import Prefetch, QuerySet

from customers.filters import CustomerFilter
from customers.models import Customer, Identity, Segment


def active_customers() -> QuerySet[Customer]:
    """Customers who have not been merged into another one."""
    return Customer.objects.filter(merged_into__isnull=True)


def customer_list() -> QuerySet[Customer]:
    return (
        active_customers()
        .select_related("organization")
        .prefetch_related(Prefetch("identities", queryset=Identity.objects.order_by("kind", "value")), "tags")
    )


def segment_customers(segment: Segment) -> QuerySet[Customer]:
    filters = {key: str(value) for key, value in segment.filters.items()}
    return CustomerFilter(data=filters, queryset=active_customers()).qs.distinct()
