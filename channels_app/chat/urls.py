from django.urls import path

from channels_app.chat import views

urlpatterns = [
    path("chat/<str:key>/upload/", views.upload, name="chat-upload"),
    path("chat/files/<str:token>/", views.attachment, name="chat-attachment"),
    path("chat/try/", views.try_page, name="chat-try"),
    path("agent/chats/", views.agent_console, name="agent-console"),
]
