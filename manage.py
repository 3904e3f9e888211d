#!/usr/bin/env python
import os
import sys

# Commands that only read the models, never serve a request or touch a secret: with no
# settings chosen they use the test settings (a throw-away key), so `makemigrations --check`
# runs on a fresh checkout while the real settings still refuse to start without SECRET_KEY.
MODEL_ONLY_COMMANDS = {"makemigrations"}


def main():
    if len(sys.argv) > 1 and sys.argv[1] in MODEL_ONLY_COMMANDS:
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "clinic.test_settings")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "clinic.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
