from django.apps import AppConfig


class ChannelsAppConfig(AppConfig):
    """The transport side of each inbox: adapters, inbound pipeline, delivery, live chat and the bot."""

    name = "channels_app"
    verbose_name = "Channels"
