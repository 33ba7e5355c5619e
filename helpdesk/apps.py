from django.apps import AppConfig


class HelpdeskConfig(AppConfig):
    name = "helpdesk"
    verbose_name = "Helpdesk"

    def ready(self) -> None:
        from customers.events import CustomerChanged, subscribe
        from customers.models import Tag
        from helpdesk import configuration, realtime
        from helpdesk.models import (
            BusinessHours,
            BusinessPeriod,
            Holiday,
            Inbox,
            RoutingRule,
            SlaPolicy,
            SlaTarget,
            Team,
        )
        from helpdesk.services.audit import record_customer_changes

        subscribe(CustomerChanged, record_customer_changes, phase="in_transaction", batch=True)
        realtime.connect()
        configuration.watch(BusinessHours, BusinessPeriod, Holiday, Inbox, RoutingRule, SlaPolicy, SlaTarget, Team, Tag)
