"""Fixtures of the sellers tests: media in a temporary folder, image uploads, eager tasks (the
in-memory Stripe, ``fake_stripe``, is the suite's one: tests/stripe_fake.py)."""

from __future__ import annotations

import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image


@pytest.fixture(autouse=True)
def _media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


def image_upload(
    name: str = "photo.jpg", size: tuple[int, int] = (800, 600), fmt: str = "JPEG"
) -> SimpleUploadedFile:
    buffer = io.BytesIO()
    mode = "RGBA" if fmt == "PNG" else "RGB"
    Image.new(mode, size, (200, 80, 40)).save(buffer, format=fmt)
    return SimpleUploadedFile(name, buffer.getvalue(), content_type=f"image/{fmt.lower()}")


@pytest.fixture
def eager_tasks():
    """Run enqueued Celery tasks in this process even when REDIS_URL names a broker: the fakes
    and the sandbox's in-process deliveries live here, and no worker runs in these tests."""
    from marketplace.celery import app

    previous = app.conf.task_always_eager
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = previous
