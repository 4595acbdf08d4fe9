from __future__ import annotations

from typing import Any

from django import forms

from backend.models import NotificationPreference


class StrictBooleanField(forms.Field):
    """JSON true/false only: a string like "false" is an error, not a truthy value."""

    def to_python(self, value: Any) -> bool:
        if not isinstance(value, bool):
            raise forms.ValidationError("must be true or false", code="invalid")
        return value

    def validate(self, value: Any) -> None:
        pass  # False is a valid value, not a missing one


class NotificationPreferenceForm(forms.Form):
    channel = forms.ChoiceField(choices=NotificationPreference.CHANNELS)
    event_type = forms.ChoiceField(choices=NotificationPreference.EVENT_TYPES)
    enabled = StrictBooleanField()


class SnapshotRangeForm(forms.Form):
    start = forms.DateField(required=False, input_formats=["%Y-%m-%d"])
    end = forms.DateField(required=False, input_formats=["%Y-%m-%d"])

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("start") and data.get("end") and data["start"] > data["end"]:
            raise forms.ValidationError("start must not be after end")
        return data


class PageForm(forms.Form):
    page = forms.IntegerField(required=False, min_value=1)
    page_size = forms.IntegerField(required=False, min_value=1, max_value=100)
