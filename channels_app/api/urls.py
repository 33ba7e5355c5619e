from django.urls import path

from channels_app.api import views

urlpatterns = [
    path("inbound-messages/", views.InboundMessageView.as_view(), name="api-inbound-message"),
    path("calls/", views.CallLogView.as_view(), name="api-call"),
]
