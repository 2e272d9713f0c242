import os

from django.core.asgi import get_asgi_application

from finops.core.startup import load_settings_or_exit, warm_web_process

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "finops.settings")
load_settings_or_exit()
application = get_asgi_application()

from finops.usage.uploads import AsgiBodyLimit  # noqa: E402 - needs the apps loaded

# Django's ASGI handler stores a whole body before anything else runs: count it as it arrives instead.
application = AsgiBodyLimit(application)
warm_web_process()  # the views and scipy.stats at boot, not on a worker's first requests
