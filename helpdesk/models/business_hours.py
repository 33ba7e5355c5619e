"""When a team or an inbox is at work: a weekly schedule in a time zone, with holidays.

The arithmetic over these rows (is it open, when does it open, add business time) is in
`helpdesk/business_hours.py`.
"""

import zoneinfo
from datetime import time

from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import gettext_lazy as _

END_OF_DAY = time(0)


def validate_time_zone(value: str) -> None:
    if value not in zoneinfo.available_timezones():
        raise ValidationError(_("%(value)s is not an IANA time zone (e.g. Asia/Tokyo)."), params={"value": value})


class Weekday(models.IntegerChoices):
    MONDAY = 0, _("Monday")
    TUESDAY = 1, _("Tuesday")
    WEDNESDAY = 2, _("Wednesday")
    THURSDAY = 3, _("Thursday")
    FRIDAY = 4, _("Friday")
    SATURDAY = 5, _("Saturday")
    SUNDAY = 6, _("Sunday")


class BusinessHours(models.Model):
    """A weekly schedule. A schedule without periods is never open; no schedule at all means 24/7."""

    name = models.CharField(max_length=120, unique=True)
    time_zone = models.CharField(
        max_length=64,
        default="UTC",
        validators=[validate_time_zone],
        help_text=_("IANA time zone the periods and holidays are in, e.g. Asia/Tokyo or America/New_York."),
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "business hours"

    def __str__(self) -> str:
        return f"{self.name} ({self.time_zone})"


class BusinessPeriod(models.Model):
    """Open from `start_time` to `end_time` (local) every `weekday`. Several per day are fine; an overnight
    shift is two periods (22:00-00:00 on one day, 00:00-06:00 on the next)."""

    schedule = models.ForeignKey(BusinessHours, on_delete=models.CASCADE, related_name="periods")
    weekday = models.PositiveSmallIntegerField(choices=Weekday.choices)
    start_time = models.TimeField()
    end_time = models.TimeField(help_text=_("00:00 means midnight at the end of the day."))

    class Meta:
        ordering = ["schedule", "weekday", "start_time"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(weekday__lte=6)
                & (models.Q(start_time__lt=models.F("end_time")) | models.Q(end_time=END_OF_DAY)),
                name="business_period_starts_before_it_ends",
            )
        ]

    def __str__(self) -> str:
        end = "24:00" if self.end_time == END_OF_DAY else f"{self.end_time:%H:%M}"
        return f"{Weekday(self.weekday).label} {self.start_time:%H:%M}-{end}"

    def clean(self) -> None:
        if self.start_time is not None and self.end_time not in (None, END_OF_DAY) and self.start_time >= self.end_time:
            raise ValidationError(
                {"end_time": _("A period ends after it starts; split an overnight shift into two periods.")}
            )


class Holiday(models.Model):
    """A local date on which the schedule is closed all day, whatever its periods say."""

    schedule = models.ForeignKey(BusinessHours, on_delete=models.CASCADE, related_name="holidays")
    date = models.DateField()
    name = models.CharField(max_length=120, blank=True)

    class Meta:
        ordering = ["schedule", "date"]
        constraints = [models.UniqueConstraint(fields=["schedule", "date"], name="holiday_unique_schedule_date")]

    def __str__(self) -> str:
        return f"{self.date:%Y-%m-%d} {self.name}".strip()
