from django.apps import AppConfig


class HelpdeskConfig(AppConfig):
    name = "helpdesk"
    verbose_name = "Helpdesk"

    def ready(self) -> None:
        from customers.events import CustomerChanged, subscribe
        from helpdesk import realtime
        from helpdesk.services.audit import record_customer_change

        subscribe(CustomerChanged, record_customer_change, phase="in_transaction")
        realtime.connect()
