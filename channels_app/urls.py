from django.urls import include, path

from channels_app import views

app_name = "channels"
urlpatterns = [
    path("line/<str:key>/", views.line_webhook, name="line-webhook"),
    path("phone/<str:key>/", views.phone_webhook, name="phone-webhook"),
    # Email providers' inbound webhooks, e.g. /webhooks/email/postmark/inbound/ (django-anymail).
    path("email/", include("anymail.urls")),
]
