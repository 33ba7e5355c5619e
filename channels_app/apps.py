from django.apps import AppConfig


class ChannelsAppConfig(AppConfig):
    """The transport side of each inbox: adapters, inbound pipeline, delivery, live chat and the bot."""

    name = "channels_app"
    verbose_name = "Channels"

    def ready(self) -> None:
        from anymail.signals import inbound

        from channels_app.delivery import on_message_created
        from channels_app.email.providers import on_inbound
        from helpdesk.events import MessageCreated, subscribe

        subscribe(MessageCreated, on_message_created, live_only=True)
        inbound.connect(on_inbound, dispatch_uid="channels_app.email.inbound")
