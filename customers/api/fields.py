"""API field types shared by every app's serializers (here because customers is the bottom app)."""

import re

from rest_framework import serializers


class StrictCharField(serializers.CharField):
    """A string field that refuses numbers and booleans instead of quietly turning them into text."""

    default_error_messages = {"nul": "Text cannot contain NUL characters."}

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        if "\x00" in data:
            self.fail("nul")  # PostgreSQL text cannot store it; no honest input has one
        return super().to_internal_value(data)


MAX_ID = 2**63 - 1  # the largest id a BIGINT column holds; bigger numbers are not ids, they are attacks
_DIGITS = re.compile(r"[0-9]{1,19}")


def is_id(value) -> bool:
    """Whether `value` (a number or its text) can name a row: a whole number from 1 to MAX_ID."""
    if isinstance(value, bool) or not isinstance(value, int | str):
        return False
    text = str(value)
    return bool(_DIGITS.fullmatch(text)) and 1 <= int(text) <= MAX_ID


class IdField(serializers.IntegerField):
    """An object id given by number (a larger one would overflow the database column)."""

    def __init__(self, **kwargs):
        kwargs.setdefault("min_value", 1)
        kwargs.setdefault("max_value", MAX_ID)
        super().__init__(**kwargs)


class BoundedPrimaryKeyRelatedField(serializers.PrimaryKeyRelatedField):
    def to_internal_value(self, data):
        if not is_id(data):
            self.fail("incorrect_type", data_type=type(data).__name__)
        return super().to_internal_value(data)


class RejectUnknownFieldsMixin:
    """A field the serializer does not know is an error, not something to ignore silently
    (a PATCH with a misspelt or read-only-by-another-route field must not answer 200)."""

    def to_internal_value(self, data):
        if hasattr(data, "keys"):
            unknown = sorted(set(data.keys()) - set(self.fields))
            if unknown:
                raise serializers.ValidationError({name: ["Unknown field."] for name in unknown})
        return super().to_internal_value(data)


class StrictSerializer(RejectUnknownFieldsMixin, serializers.Serializer):
    pass


class StrictModelSerializer(RejectUnknownFieldsMixin, serializers.ModelSerializer):
    serializer_related_field = BoundedPrimaryKeyRelatedField
    serializer_field_mapping = {
        **serializers.ModelSerializer.serializer_field_mapping,
        **{
            model_field: StrictCharField
            for model_field, field in serializers.ModelSerializer.serializer_field_mapping.items()
            if field is serializers.CharField
        },
    }
