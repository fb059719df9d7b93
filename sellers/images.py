"""Listing images: validated with Pillow, re-encoded and resized to a sane maximum.

Re-encoding drops whatever else the upload carried (EXIF with GPS positions, trailing data) and
means we only ever serve images Pillow itself wrote.
"""

from __future__ import annotations

import io
import uuid

from django.core.files.base import ContentFile
from django.core.files.uploadedfile import UploadedFile
from PIL import Image, ImageOps, UnidentifiedImageError

from marketplace.errors import UserFacingError

MAX_UPLOAD_BYTES = 5 * 1024 * 1024
MAX_PIXELS = 40_000_000  # refuse decompression bombs before decoding
MAX_SIDE = 1600  # longest side after resizing
MAX_IMAGES_PER_LISTING = 8
ALLOWED_FORMATS = {"JPEG", "PNG", "WEBP", "GIF"}


def validate_image(upload: UploadedFile[bytes]) -> None:
    """Raise UserFacingError unless ``upload`` is a JPEG/PNG/WebP/GIF image of sane size."""
    name = upload.name or "image"
    if upload.size is not None and upload.size > MAX_UPLOAD_BYTES:
        raise UserFacingError(
            f"{name} is too large ({upload.size / 1024 / 1024:.1f} MB); the limit is 5 MB.",
            field="images",
        )
    try:
        upload.seek(0)
        with Image.open(upload) as image:
            if image.format not in ALLOWED_FORMATS:
                raise UserFacingError(
                    f"{name} is a {image.format} image; use JPEG, PNG, WebP or GIF.",
                    field="images",
                )
            if image.width * image.height > MAX_PIXELS:
                raise UserFacingError(f"{name} has too many pixels.", field="images")
            image.verify()
    except UserFacingError:
        raise
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError):
        raise UserFacingError(f"{name} is not an image we can read.", field="images") from None
    finally:
        upload.seek(0)


def process_image(upload: UploadedFile[bytes]) -> ContentFile[bytes]:
    """Validate, orient, resize (longest side MAX_SIDE) and re-encode ``upload``.

    Returns a file named ``<uuid>.jpg`` (or ``.png`` when the image has transparency).
    """
    validate_image(upload)
    upload.seek(0)
    with Image.open(upload) as opened:
        image = ImageOps.exif_transpose(opened)
        image.thumbnail((MAX_SIDE, MAX_SIDE))
        has_alpha = image.mode in ("RGBA", "LA") or (
            image.mode == "P" and "transparency" in image.info
        )
        buffer = io.BytesIO()
        if has_alpha:
            image.convert("RGBA").save(buffer, format="PNG", optimize=True)
            extension = "png"
        else:
            image.convert("RGB").save(buffer, format="JPEG", quality=85, optimize=True)
            extension = "jpg"
    return ContentFile(buffer.getvalue(), name=f"{uuid.uuid4().hex}.{extension}")
