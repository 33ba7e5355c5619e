from rest_framework.permissions import BasePermission

from helpdesk.selectors.access import is_staff_role, role_of


class HasHelpdeskRole(BasePermission):
    """Agents, supervisors, admins and portal customers; per-object rules live in the selectors."""

    def has_permission(self, request, view):
        return role_of(request.user) is not None


class IsStaffRole(BasePermission):
    message = "Only agents, supervisors and admins may do this."

    def has_permission(self, request, view):
        return is_staff_role(request.user)
