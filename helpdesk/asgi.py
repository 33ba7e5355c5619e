import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "helpdesk.settings")
django_asgi_app = get_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402  (needs Django set up first)
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402
from django.utils.module_loading import import_string  # noqa: E402

from helpdesk.routing import websocket_urlpatterns  # noqa: E402

# The chat's routes, mounted by name like channels_app's URLs (the ticket core imports none of its modules).
chat_widget = import_string("channels_app.chat.routing.widget_urlpatterns")
chat_staff = import_string("channels_app.chat.routing.staff_urlpatterns")

# Sockets of the helpdesk's own pages: a logged-in session, from one of ALLOWED_HOSTS.
staff_sockets = AllowedHostsOriginValidator(AuthMiddlewareStack(URLRouter([*websocket_urlpatterns, *chat_staff])))
# The chat widget on companies' sites: no session, the Origin checked against each widget's allowed origins.
widget_sockets = URLRouter(chat_widget)


async def websocket_router(scope, receive, send):
    app = widget_sockets if scope["path"].startswith("/ws/chat/") else staff_sockets
    return await app(scope, receive, send)


application = ProtocolTypeRouter({"http": django_asgi_app, "websocket": websocket_router})
