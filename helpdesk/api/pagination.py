import re

from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.pagination import CursorPagination


class StrictPageSizeMixin:
    """`page_size` must be a whole number from 1; above the maximum it is capped (as documented).
    A cursor that was not made by the server is a 400, not DRF's 404."""

    def decode_cursor(self, request):
        try:
            return super().decode_cursor(request)
        except NotFound:
            raise ValidationError({self.cursor_query_param: ["Invalid cursor: use the next/previous links."]}) from None

    def get_page_size(self, request):
        values = request.query_params.getlist(self.page_size_query_param)
        if not values:
            return self.page_size
        if len(values) > 1 or not re.fullmatch(r"[0-9]{1,6}", values[0]) or int(values[0]) < 1:
            raise ValidationError({self.page_size_query_param: ["A whole number from 1."]})
        return min(int(values[0]), self.max_page_size)


class NewestFirstCursorPagination(StrictPageSizeMixin, CursorPagination):
    """Stable pages however many tickets arrive meanwhile, and no COUNT(*) over the whole inbox."""

    ordering = ("-updated_at", "-id")
    page_size_query_param = "page_size"
    max_page_size = 200


class TimelineCursorPagination(StrictPageSizeMixin, CursorPagination):
    ordering = ("seq",)
    page_size = 100
    page_size_query_param = "page_size"
    max_page_size = 500


class RecentFirstCursorPagination(StrictPageSizeMixin, CursorPagination):
    ordering = ("-id",)
    page_size_query_param = "page_size"
    max_page_size = 200
