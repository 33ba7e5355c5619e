from rest_framework.pagination import CursorPagination


class NewestFirstCursorPagination(CursorPagination):
    """Stable pages however many tickets arrive meanwhile, and no COUNT(*) over the whole inbox."""

    ordering = ("-updated_at", "-id")
    page_size_query_param = "page_size"
    max_page_size = 200


class TimelineCursorPagination(CursorPagination):
    ordering = ("seq",)
    page_size = 100
    page_size_query_param = "page_size"
    max_page_size = 500


class RecentFirstCursorPagination(CursorPagination):
    ordering = ("-id",)
    page_size_query_param = "page_size"
    max_page_size = 200
