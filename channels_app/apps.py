from django.apps import AppConfig


class ChannelsAppConfig(AppConfig):
    """The transport side of each inbox: adapters, inbound pipeline, delivery, live chat and the bot."""

    name = "channels_app"
    verbose_name = "Channels"

    def ready(self) -> None:
        from anymail.signals import inbound

        from channels_app import intake
        from channels_app.delivery import on_message_created
        from channels_app.email.inbound import EmailIntake
        from channels_app.email.providers import on_inbound
        from channels_app.line.inbound import LineIntake
        from channels_app.models import LineAccount, Mailbox
        from helpdesk import configuration
        from helpdesk.events import MessageCreated, subscribe

        subscribe(MessageCreated, on_message_created, live_only=True)
        configuration.watch(Mailbox, LineAccount)
        intake.register("email", EmailIntake())
        intake.register("line", LineIntake())
        inbound.connect(on_inbound, dispatch_uid="channels_app.email.inbound")
