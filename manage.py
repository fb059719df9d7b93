#!/usr/bin/env python
"""Django's command-line utility, with start-up errors reduced to one clear line."""

import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "marketplace.settings")
    from django.core.exceptions import ImproperlyConfigured
    from django.core.management import execute_from_command_line

    try:
        execute_from_command_line(sys.argv)
    except ImproperlyConfigured as exc:
        sys.stderr.write(f"error: configuration: {exc}\n")
        sys.exit(2)
    except Exception as exc:
        from marketplace.startup import describe_startup_error

        message = describe_startup_error(exc)
        if message is None:
            raise
        sys.stderr.write(f"error: {message}\n")
        sys.exit(2)


if __name__ == "__main__":
    main()
