from __future__ import annotations

import time
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from sandbox import clock


class Command(BaseCommand):
    help = "Run the Stripe sandbox's due work (clock jobs, webhook retries); --every N to loop."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--every", type=float, default=0, help="repeat every N seconds")
        parser.add_argument("--advance", type=int, default=0, help="advance the clock first (s)")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["advance"]:
            clock.advance(options["advance"], run_jobs=False)
        while True:
            clock.run_due()
            self.stdout.write(
                f"sandbox due work done at {clock.now_datetime():%Y-%m-%d %H:%M:%S} UTC"
            )
            if not options["every"]:
                return
            time.sleep(options["every"])
