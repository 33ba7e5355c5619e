"""Customers, their identities, notes, merges and segments over REST (agents, supervisors, admins)."""

from django.contrib.contenttypes.models import ContentType
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.response import Response

from customers import services as customer_services
from customers.api.serializers import (
    CustomerMergeSerializer,
    CustomerNoteSerializer,
    CustomerSerializer,
    IdentitySerializer,
    MergeRequestSerializer,
    NewCustomerSerializer,
    NewIdentitySerializer,
    SegmentSerializer,
)
from customers.filters import CustomerFilter
from customers.models import Customer, CustomerMerge, Identity, Segment
from customers.selectors import active_customers, customer_list, segment_customers
from helpdesk.api.pagination import RecentFirstCursorPagination
from helpdesk.api.permissions import IsStaffRole
from helpdesk.api.serializers import AuditEntrySerializer
from helpdesk.models import AuditEntry

NOT_FOUND = OpenApiResponse(description="No such customer.")
INVALID = OpenApiResponse(description="Invalid input, with the reasons per field.")
CONFLICT = OpenApiResponse(description="The address belongs to another customer, or the merge is not possible.")


def _valid(serializer_class, request):
    serializer = serializer_class(data=request.data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


@extend_schema_view(
    list=extend_schema(responses={200: CustomerSerializer(many=True), 400: INVALID}),
    retrieve=extend_schema(responses={200: CustomerSerializer, 404: NOT_FOUND}),
)
class CustomerViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    serializer_class = CustomerSerializer
    lookup_value_regex = "[0-9]{1,18}"
    permission_classes = [IsStaffRole]
    filterset_class = CustomerFilter
    pagination_class = RecentFirstCursorPagination

    def get_queryset(self):
        return customer_list()

    def get_object(self) -> Customer:
        try:
            return customer_list().get(pk=int(self.kwargs["pk"]))
        except (Customer.DoesNotExist, ValueError):
            raise NotFound("No such customer.") from None

    def _customer_response(self, customer, code=status.HTTP_200_OK):
        return Response(CustomerSerializer(customer_list().get(pk=customer.pk)).data, status=code)

    @extend_schema(request=NewCustomerSerializer, responses={201: CustomerSerializer, 400: INVALID, 409: CONFLICT})
    def create(self, request):
        data = _valid(NewCustomerSerializer, request)
        identities = data.pop("identities", [])
        customer = customer_services.create_customer(actor=request.user, identities=identities, **data)
        return self._customer_response(customer, status.HTTP_201_CREATED)

    @extend_schema(request=CustomerSerializer, responses={200: CustomerSerializer, 400: INVALID, 404: NOT_FOUND})
    def partial_update(self, request, pk=None):
        customer = self.get_object()
        serializer = CustomerSerializer(customer, data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        customer_services.update_customer(customer=customer, actor=request.user, **serializer.validated_data)
        return self._customer_response(customer)

    @extend_schema(
        methods=["post"],
        request=NewIdentitySerializer,
        responses={201: IdentitySerializer, 400: INVALID, 404: NOT_FOUND, 409: CONFLICT},
    )
    @extend_schema(methods=["get"], responses={200: IdentitySerializer(many=True), 404: NOT_FOUND})
    @action(detail=True, methods=["get", "post"], pagination_class=None, filterset_class=None)
    def identities(self, request, pk=None):
        """The customer's channel addresses; POST adds one (409 if it belongs to someone else)."""
        customer = self.get_object()
        if request.method == "POST":
            identity = customer_services.add_identity(
                customer=customer, actor=request.user, **_valid(NewIdentitySerializer, request)
            )
            return Response(IdentitySerializer(identity).data, status=status.HTTP_201_CREATED)
        return Response(IdentitySerializer(customer.identities.all(), many=True).data)

    @extend_schema(responses={204: None, 404: NOT_FOUND})
    @action(detail=True, methods=["delete"], url_path=r"identities/(?P<identity_id>[0-9]{1,18})", filterset_class=None)
    def remove_identity(self, request, pk=None, identity_id=None):
        customer = self.get_object()
        try:
            identity = customer.identities.get(pk=int(identity_id))
        except Identity.DoesNotExist:
            raise NotFound("No such identity on this customer.") from None
        customer_services.remove_identity(identity=identity, actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(
        methods=["post"], request=CustomerNoteSerializer, responses={201: CustomerNoteSerializer, 400: INVALID}
    )
    @extend_schema(methods=["get"], responses={200: CustomerNoteSerializer(many=True), 404: NOT_FOUND})
    @action(detail=True, methods=["get", "post"], filterset_class=None)
    def notes(self, request, pk=None):
        customer = self.get_object()
        if request.method == "POST":
            data = _valid(CustomerNoteSerializer, request)
            note = customer_services.add_customer_note(customer=customer, author=request.user, body=data["body"])
            return Response(CustomerNoteSerializer(note).data, status=status.HTTP_201_CREATED)
        notes = customer.notes.select_related("author")
        self.filter_queryset(notes)
        page = self.paginate_queryset(notes)
        return self.get_paginated_response(CustomerNoteSerializer(page, many=True).data)

    @extend_schema(
        request=MergeRequestSerializer,
        responses={201: CustomerMergeSerializer, 400: INVALID, 404: NOT_FOUND, 409: CONFLICT},
    )
    @action(detail=True, methods=["post"], filterset_class=None)
    def merge(self, request, pk=None):
        """Merge the customer `source` into this one: identities, tickets and history move here."""
        target = self.get_object()
        data = _valid(MergeRequestSerializer, request)
        try:
            source = active_customers().get(pk=data["source"])
        except Customer.DoesNotExist:
            raise ValidationError({"source": ["No such customer (or it was already merged)."]}) from None
        merge = customer_services.merge_customers(
            source=source, target=target, actor=request.user, reason=data["reason"]
        )
        return Response(CustomerMergeSerializer(merge).data, status=status.HTTP_201_CREATED)

    @extend_schema(responses={200: AuditEntrySerializer(many=True), 404: NOT_FOUND})
    @action(detail=True, filterset_class=None)
    def audit(self, request, pk=None):
        """Who changed what on this customer, newest first."""
        customer = self.get_object()
        entries = AuditEntry.objects.filter(
            content_type=ContentType.objects.get_for_model(Customer), object_id=customer.pk
        ).select_related("actor__agent_profile")
        self.filter_queryset(entries)
        page = self.paginate_queryset(entries)
        return self.get_paginated_response(AuditEntrySerializer(page, many=True).data)


class MergeViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Recorded merges; POST .../undo/ gives the source customer back what moved."""

    serializer_class = CustomerMergeSerializer
    lookup_value_regex = "[0-9]{1,18}"
    permission_classes = [IsStaffRole]
    pagination_class = RecentFirstCursorPagination
    queryset = CustomerMerge.objects.all()

    @extend_schema(request=None, responses={200: CustomerMergeSerializer, 404: NOT_FOUND, 409: CONFLICT})
    @action(detail=True, methods=["post"])
    def undo(self, request, pk=None):
        merge = customer_services.undo_merge(merge=self.get_object(), actor=request.user)
        return Response(CustomerMergeSerializer(merge).data)


class SegmentViewSet(viewsets.ModelViewSet):
    """Saved customer filters (same parameters as the customer list)."""

    serializer_class = SegmentSerializer
    lookup_value_regex = "[0-9]{1,18}"
    permission_classes = [IsStaffRole]
    pagination_class = RecentFirstCursorPagination
    queryset = Segment.objects.all()

    def perform_create(self, serializer):
        serializer.instance = customer_services.save_segment(segment=Segment(**serializer.validated_data))

    def perform_update(self, serializer):
        for field, value in serializer.validated_data.items():
            setattr(serializer.instance, field, value)
        customer_services.save_segment(segment=serializer.instance)

    @extend_schema(responses={200: CustomerSerializer(many=True)})
    @action(detail=True)
    def customers(self, request, pk=None):
        """The customers the segment matches now."""
        customers = (
            segment_customers(self.get_object()).select_related("organization").prefetch_related("identities", "tags")
        )
        self.filter_queryset(customers)
        page = self.paginate_queryset(customers)
        return self.get_paginated_response(CustomerSerializer(page, many=True).data)
