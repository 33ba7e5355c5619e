"""Reads of customers shared by pages, the API, segments and later apps."""

import logging

from django.db.models import Prefetch, QuerySet

from customers.filters import CustomerFilter
from customers.models import Customer, Identity, Segment

logger = logging.getLogger(__name__)


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
    """The customers a segment matches now. A segment whose filters no longer hold (say, its
    organization was deleted) matches nobody rather than everybody, and says so in the log."""
    filters = {key: str(value) for key, value in segment.filters.items()}
    filterset = CustomerFilter(data=filters, queryset=active_customers())
    if not filterset.is_valid():
        logger.warning("segment %s (#%s) has invalid filters: %s", segment, segment.pk, dict(filterset.errors))
        return Customer.objects.none()
    return filterset.qs.distinct()
