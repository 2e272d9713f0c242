#!/usr/bin/env python
"""Django's command-line utility for finops."""

import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "finops.settings")
    from django.core.management import execute_from_command_line

    from finops.core.startup import load_settings_or_exit

    load_settings_or_exit()
    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
