import django_filters
from django_filters.rest_framework import DjangoFilterBackend
from rest_framework.exceptions import ValidationError

from customers.api.fields import is_id

# Query parameters that are not filters but are understood everywhere.
GLOBAL_PARAMS = frozenset({"cursor", "page_size", "format"})
BOOLEAN_VALUES = frozenset({"true", "false"})  # what django-filter understands; it ignores the rest


class StrictFilterBackend(DjangoFilterBackend):
    """django-filter, but an unknown query parameter is a 400 instead of being silently ignored
    (a typo in a filter must not return everything)."""

    def filter_queryset(self, request, queryset, view):
        filterset_class = self.get_filterset_class(view, queryset)
        known = set(GLOBAL_PARAMS) | set(getattr(view, "extra_query_params", ()))
        if filterset_class is not None:
            known |= set(filterset_class.base_filters)
        if any("\x00" in value for values in request.query_params.lists() for value in values[1]):
            raise ValidationError({"non_field_errors": ["Query parameters cannot contain NUL characters."]})
        unknown = sorted(set(request.query_params) - known)
        if unknown:
            raise ValidationError({name: ["Unknown query parameter."] for name in unknown})
        if filterset_class is not None:
            self._reject_values_django_filter_would_ignore(request, filterset_class)
        return super().filter_queryset(request, queryset, view)

    @staticmethod
    def _reject_values_django_filter_would_ignore(request, filterset_class):
        """`?status=` is not "any status" and `?unassigned=maybe` is not "either": django-filter would
        drop both silently, so they are refused here. Only free-text filters may be empty."""
        errors = {}
        for name, filter_ in filterset_class.base_filters.items():
            values = request.query_params.getlist(name)
            if "" in values and not isinstance(filter_, django_filters.CharFilter):
                errors[name] = ["A value is required."]
            elif isinstance(filter_, django_filters.BooleanFilter) and values:
                if len(values) > 1 or values[0] not in BOOLEAN_VALUES:
                    errors[name] = ["Either true or false."]
            elif isinstance(
                filter_, django_filters.ModelChoiceFilter | django_filters.ModelMultipleChoiceFilter
            ) and not all(map(is_id, values)):
                errors[name] = ["An id is a whole number."]
            elif len(values) > 1 and not isinstance(
                filter_, django_filters.MultipleChoiceFilter | django_filters.ModelMultipleChoiceFilter
            ):
                errors[name] = ["Give this parameter once."]
        if errors:
            raise ValidationError(errors)
