import os

from django.core.wsgi import get_wsgi_application

from finops.core.startup import load_settings_or_exit, warm_web_process

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "finops.settings")
load_settings_or_exit()
application = get_wsgi_application()
warm_web_process()  # the views and scipy.stats at boot, not on a worker's first requests
