"""Turning domain exceptions into HTTP answers: 400 invalid, 404 unseen, 409 conflicting state."""

from django.core.exceptions import ObjectDoesNotExist
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from customers.services import IdentityConflict, MergeNotAllowed
from helpdesk.workflow import TransitionNotAllowed


class Conflict(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_code = "conflict"


def exception_handler(exc, context):
    if isinstance(exc, DjangoValidationError):
        detail = exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
        exc = exceptions.ValidationError(detail)
    elif isinstance(exc, ObjectDoesNotExist):
        exc = Http404()
    elif isinstance(exc, IdentityConflict):
        response = Response(
            {
                "detail": "This address belongs to another customer; merge the customers to join them.",
                "code": "identity_conflict",
                "customer": exc.identity.customer_id,
            },
            status=status.HTTP_409_CONFLICT,
        )
        return response
    elif isinstance(exc, TransitionNotAllowed | MergeNotAllowed):
        exc = Conflict(str(exc))
    return drf_exception_handler(exc, context)
