"""``multipart/form-data`` bodies (what the SDK sends to ``POST /v1/files``, on
files.stripe.com in real Stripe): fields as form values, file parts as ``Upload``s.

The dispatcher keeps the uploads out of the parameters it validates and fingerprints: a file part
becomes the text ``"<upload name size sha256>"`` there, and the bytes travel on the request
(``sandbox.context``) to the one route that reads them (``sandbox/resources/files.py``)."""

from __future__ import annotations

import hashlib
import re
from contextvars import ContextVar
from dataclasses import dataclass
from email.parser import BytesParser
from email.policy import HTTP

from sandbox.errors import invalid_request

MAX_BODY = 16 * 1024 * 1024  # Stripe's largest file limit (account_requirement etc.)
_BOUNDARY = re.compile(r'boundary="?([^";]+)"?')


@dataclass(frozen=True)
class Upload:
    """One file part of the request being handled."""

    name: str
    filename: str
    content: bytes

    @property
    def placeholder(self) -> str:
        digest = hashlib.sha256(self.content).hexdigest()
        return f"<upload {self.filename} {len(self.content)} {digest}>"


# The file parts of the request being handled (empty for every other request).
uploads: ContextVar[dict[str, Upload] | None] = ContextVar("sandbox_uploads", default=None)


def decode(body: bytes, content_type: str) -> tuple[str, dict[str, Upload]]:
    """``(form-encoded text of the plain fields and file placeholders, {field: Upload})``."""
    from urllib.parse import urlencode

    if not _BOUNDARY.search(content_type):
        raise invalid_request("Invalid multipart/form-data request: no boundary.")
    if len(body) > MAX_BODY:
        raise invalid_request(
            f"The file is too large: at most {MAX_BODY // (1024 * 1024)}MB.", param="file"
        )
    message = BytesParser(policy=HTTP).parsebytes(
        b"Content-Type: " + content_type.encode("latin-1") + b"\r\n\r\n" + body
    )
    if not message.is_multipart():
        raise invalid_request("Invalid multipart/form-data request.")
    pairs: list[tuple[str, str]] = []
    uploads: dict[str, Upload] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if not isinstance(name, str) or not name:
            raise invalid_request("Invalid multipart/form-data request: a part has no name.")
        filename = part.get_filename()
        payload = part.get_payload(decode=True)
        content = payload if isinstance(payload, bytes) else b""
        if filename is not None:
            upload = Upload(name=name, filename=filename, content=content)
            uploads[name] = upload
            pairs.append((name, upload.placeholder))
        else:
            pairs.append((name, content.decode("utf-8", errors="replace")))
    return urlencode(pairs), uploads
