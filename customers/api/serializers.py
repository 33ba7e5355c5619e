from rest_framework import serializers

from customers.api.fields import (
    BoundedPrimaryKeyRelatedField,
    IdField,
    StrictCharField,
    StrictModelSerializer,
    StrictSerializer,
)
from customers.models import Customer, CustomerMerge, CustomerNote, Identity, IdentityKind, Organization, Segment


class IdentitySerializer(StrictModelSerializer):
    value = StrictCharField(max_length=320, help_text="Normalized on save (lower-case email, E.164 phone...).")

    class Meta:
        model = Identity
        fields = ["id", "kind", "value", "display_value", "verified", "created_at"]
        read_only_fields = ["display_value", "created_at"]


class NewIdentitySerializer(StrictSerializer):
    kind = serializers.ChoiceField(choices=IdentityKind.choices)
    value = StrictCharField(max_length=320)
    verified = serializers.BooleanField(default=False)


class OrganizationRefSerializer(StrictModelSerializer):
    class Meta:
        model = Organization
        fields = ["id", "name"]


class CustomerSerializer(StrictModelSerializer):
    identities = IdentitySerializer(many=True, read_only=True)
    tags = serializers.SlugRelatedField(many=True, read_only=True, slug_field="name")
    organization = BoundedPrimaryKeyRelatedField(queryset=Organization.objects.all(), allow_null=True, required=False)
    organization_name = StrictCharField(source="organization.name", read_only=True, allow_null=True, default=None)

    class Meta:
        model = Customer
        fields = [
            "id", "name", "organization", "organization_name", "preferred_language", "preferred_channel",
            "tags", "identities", "created_at", "updated_at",
        ]  # fmt: skip
        read_only_fields = ["created_at", "updated_at"]


class NewCustomerSerializer(CustomerSerializer):
    identities = NewIdentitySerializer(many=True, required=False)

    class Meta(CustomerSerializer.Meta):
        pass

    def validate(self, attrs):
        if not (attrs.get("name", "").strip() or attrs.get("identities")):
            raise serializers.ValidationError("A customer needs a name or at least one identity.")
        return attrs


class CustomerNoteSerializer(StrictModelSerializer):
    author = StrictCharField(source="author.get_username", read_only=True, default=None)

    class Meta:
        model = CustomerNote
        fields = ["id", "body", "author", "created_at"]
        read_only_fields = ["author", "created_at"]


class MergeRequestSerializer(StrictSerializer):
    source = IdField(help_text="Id of the customer to merge into this one.")
    reason = StrictCharField(max_length=200, required=False, default="")


class CustomerMergeSerializer(StrictModelSerializer):
    class Meta:
        model = CustomerMerge
        fields = ["id", "source", "target", "performed_by", "reason", "moved", "created_at", "undone_at", "undone_by"]
        read_only_fields = fields


class SegmentSerializer(StrictModelSerializer):
    class Meta:
        model = Segment
        fields = ["id", "name", "description", "filters", "created_at"]
        read_only_fields = ["created_at"]
