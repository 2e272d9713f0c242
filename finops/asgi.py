import os

from django.core.asgi import get_asgi_application

from finops.core.startup import load_settings_or_exit

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "finops.settings")
load_settings_or_exit()
application = get_asgi_application()
