from django.apps import AppConfig


class SurveysConfig(AppConfig):
    """CSAT / NPS / CES surveys and closed-loop follow-up."""

    name = "surveys"
    verbose_name = "Surveys"
