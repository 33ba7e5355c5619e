from django.urls import path

from channels_app import web_views

urlpatterns = [
    path("new", web_views.support_request, name="support-request"),
    path("<slug:slug>/new", web_views.support_request, name="support-request-form"),
]
