"""File uploads (``/v1/files``: create, retrieve, list), for dispute evidence.

Real Stripe takes uploads on files.stripe.com as ``multipart/form-data`` (the SDK's
``base_address="files"``; the gateway points it at the sandbox like the API). The sandbox keeps
the file's metadata, not its bytes, and checks what Stripe checks for ``dispute_evidence``: a
PDF, JPEG or PNG (from its first bytes), at most 5MB. Other purposes are refused clearly (the
sandbox does not emulate them). ``check_evidence_files`` is what a dispute's update uses to
refuse evidence naming an unknown file or one uploaded for another purpose.
"""

from __future__ import annotations

from typing import Any

from stripe.params import FileCreateParams, FileListParams, FileRetrieveParams

from sandbox import clock, multipart, store
from sandbox.errors import StripeError, invalid_request
from sandbox.ids import new_id
from sandbox.router import Request, route

JSON = dict[str, Any]

# purpose -> (types, max bytes, lifetime in seconds)
PURPOSES = {"dispute_evidence": (("pdf", "jpg", "png"), 5 * 1024 * 1024, 274 * 86400)}
FILE_EVIDENCE_FIELDS = (
    "cancellation_policy",
    "customer_communication",
    "customer_signature",
    "duplicate_charge_documentation",
    "receipt",
    "refund_policy",
    "service_documentation",
    "shipping_documentation",
    "uncategorized_file",
)


def sniff(content: bytes) -> str | None:
    """The file's type from its first bytes (what Stripe reports as ``type``)."""
    if content.startswith(b"%PDF-"):
        return "pdf"
    if content.startswith(b"\xff\xd8\xff"):
        return "jpg"
    if content.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    return None


@route("POST", "/v1/files", params=FileCreateParams)
def create(req: Request) -> JSON:
    purpose = str(req.params.get("purpose") or "")
    if not purpose:
        raise invalid_request(
            "Missing required param: purpose.", param="purpose", code="parameter_missing"
        )
    if purpose not in PURPOSES:
        raise invalid_request(
            f"The sandbox takes files for dispute evidence only, not purpose {purpose!r}.",
            param="purpose",
        )
    if req.params.get("file_link_data"):
        raise invalid_request("The sandbox does not create file links.", param="file_link_data")
    upload = (multipart.uploads.get() or {}).get("file")
    if upload is None:
        raise invalid_request(
            "Missing required param: file (send it as multipart/form-data).",
            param="file",
            code="parameter_missing",
        )
    types, max_size, lifetime = PURPOSES[purpose]
    kind = sniff(upload.content)
    if kind not in types:
        raise invalid_request(
            f"The file type is not supported for {purpose}: upload a "
            + ", ".join(t.upper() for t in types)
            + " file.",
            param="file",
        )
    size = len(upload.content)
    if size > max_size:
        raise invalid_request(
            f"The file is too large ({size} bytes): {purpose} files may be at most "
            f"{max_size // (1024 * 1024)}MB.",
            param="file",
        )
    if size == 0:
        raise invalid_request("The file is empty.", param="file")
    now = clock.now()
    file_id = new_id("file")
    return store.create(
        "file",
        "file",
        {
            "expires_at": now + lifetime,
            "filename": upload.filename,
            "links": {"object": "list", "data": [], "has_more": False, "url": "/v1/file_links"},
            "purpose": purpose,
            "size": size,
            "title": None,
            "type": kind,
            "url": f"https://files.stripe.com/v1/files/{file_id}/contents",
        },
        account=req.account,
        object_id=file_id,
    )


@route("GET", "/v1/files/{file}", params=FileRetrieveParams)
def retrieve(req: Request) -> JSON:
    return store.get(req.args["file"], object_type="file", account=req.account, param="file")


@route("GET", "/v1/files", params=FileListParams)
def list_files(req: Request) -> JSON:
    qs = store.queryset("file", account=req.account)
    purpose = req.params.get("purpose")
    if purpose:
        qs = qs.filter(data__purpose=purpose)
    return store.list_response(qs, req.params, url="/v1/files")


def check_evidence_files(evidence: Any, *, account: str) -> None:
    """Refuse (Stripe's 400) evidence whose file fields name no uploaded file, or a file not
    uploaded for ``dispute_evidence``."""
    if not isinstance(evidence, dict):
        return
    for field in FILE_EVIDENCE_FIELDS:
        file_id = evidence.get(field)
        if not file_id:
            continue
        row = store.queryset("file", account=account).filter(pk=str(file_id)).first()
        if row is None:
            raise StripeError(
                f"No such file upload: '{file_id}'",
                param=f"evidence[{field}]",
                code="resource_missing",
            )
        if row.data.get("purpose") != "dispute_evidence":
            raise invalid_request(
                f"The file {file_id} was not uploaded for dispute evidence.",
                param=f"evidence[{field}]",
            )
