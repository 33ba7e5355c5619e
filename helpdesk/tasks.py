from celery import shared_task

from helpdesk.services.sla import flag_sla_breaches as flag_sla_breaches_service
from helpdesk.services.tickets import close_solved_tickets as close_solved_tickets_service


@shared_task(name="helpdesk.tasks.close_solved_tickets")
def close_solved_tickets() -> int:
    """Periodic: close tickets that have stayed solved past the configured delay."""
    return close_solved_tickets_service()


@shared_task(name="helpdesk.tasks.flag_sla_breaches")
def flag_sla_breaches() -> int:
    """Periodic (every minute): flag SLA targets that are near breach or breached."""
    return flag_sla_breaches_service()
