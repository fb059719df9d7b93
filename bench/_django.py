"""Set up Django for a benchmark on a throw-away database (SQLite file, or BENCH_DATABASE_URL)."""

from __future__ import annotations

import os
import tempfile


def setup(name: str) -> str:
    """Configure and start Django; returns a description of the database used."""
    os.environ.setdefault("SECRET_KEY", "bench-only-secret-key-not-for-production-0123456789abcdef")
    os.environ.setdefault("ALLOWED_HOSTS", "testserver,localhost,127.0.0.1")
    os.environ.setdefault("SECURE_SSL_REDIRECT", "0")
    os.environ["DEBUG"] = "0"
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    os.environ.pop("REDIS_URL", None)
    bench_db = os.environ.get("BENCH_DATABASE_URL", "")
    if bench_db:
        os.environ["DATABASE_URL"] = bench_db
        where = bench_db.rsplit("@", 1)[-1]
    else:
        os.environ.pop("DATABASE_URL", None)
        path = os.path.join(tempfile.mkdtemp(prefix=f"bench-{name}-"), "bench.sqlite3")
        os.environ["SQLITE_PATH"] = path
        where = f"sqlite {path}"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "marketplace.settings")
    import django

    django.setup()
    from django.core.management import call_command

    if bench_db:
        call_command("flush", "--noinput", verbosity=0)
    call_command("migrate", "--noinput", verbosity=0)
    return where
