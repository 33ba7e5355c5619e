"""Websocket routes of the live chat. The widget's route is served without the project's Origin check
(ALLOWED_HOSTS): companies embed it in their own sites, and its consumer checks the Origin against the
widget's allowed origins itself. The console's route goes through the usual session and Origin checks."""

from django.urls import path

from channels_app.chat.consumers import AgentConsumer, WidgetConsumer

widget_urlpatterns = [path("ws/chat/<str:key>/", WidgetConsumer.as_asgi())]
staff_urlpatterns = [path("ws/agent/", AgentConsumer.as_asgi())]
