from rest_framework import serializers

from customers.models import Customer, CustomerMerge, CustomerNote, Identity, IdentityKind, Organization, Segment


class IdentitySerializer(serializers.ModelSerializer):
    value = serializers.CharField(max_length=320, help_text="Normalized on save (lower-case email, E.164 phone...).")

    class Meta:
        model = Identity
        fields = ["id", "kind", "value", "display_value", "verified", "created_at"]
        read_only_fields = ["display_value", "created_at"]


class NewIdentitySerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=IdentityKind.choices)
    value = serializers.CharField(max_length=320)
    verified = serializers.BooleanField(default=False)


class OrganizationRefSerializer(serializers.ModelSerializer):
    class Meta:
        model = Organization
        fields = ["id", "name"]


class CustomerSerializer(serializers.ModelSerializer):
    identities = IdentitySerializer(many=True, read_only=True)
    tags = serializers.SlugRelatedField(many=True, read_only=True, slug_field="name")
    organization = serializers.PrimaryKeyRelatedField(
        queryset=Organization.objects.all(), allow_null=True, required=False
    )
    organization_name = serializers.CharField(source="organization.name", read_only=True, default=None)

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


class CustomerNoteSerializer(serializers.ModelSerializer):
    author = serializers.CharField(source="author.get_username", read_only=True, default=None)

    class Meta:
        model = CustomerNote
        fields = ["id", "body", "author", "created_at"]
        read_only_fields = ["author", "created_at"]


class MergeRequestSerializer(serializers.Serializer):
    source = serializers.IntegerField(help_text="Id of the customer to merge into this one.")
    reason = serializers.CharField(max_length=200, required=False, default="")


class CustomerMergeSerializer(serializers.ModelSerializer):
    class Meta:
        model = CustomerMerge
        fields = ["id", "source", "target", "performed_by", "reason", "moved", "created_at", "undone_at", "undone_by"]
        read_only_fields = fields


class SegmentSerializer(serializers.ModelSerializer):
    class Meta:
        model = Segment
        fields = ["id", "name", "description", "filters", "created_at"]
        read_only_fields = ["created_at"]
