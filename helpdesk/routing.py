from django.urls import path

from helpdesk.consumers import TicketStreamConsumer

websocket_urlpatterns = [
    path("ws/tickets/<int:ticket_id>/", TicketStreamConsumer.as_asgi()),
]
