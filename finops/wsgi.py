import os

from django.core.wsgi import get_wsgi_application

from finops.core.normal import preload
from finops.core.startup import load_settings_or_exit

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "finops.settings")
load_settings_or_exit()
application = get_wsgi_application()
preload()  # scipy.stats at boot, not on the first overview request
