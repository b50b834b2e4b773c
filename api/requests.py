"""Reading a request the routes share: its body (bounded, gzip or plain) and the refusal of
a role too low for what it asks."""

import zlib

from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response


def too_large(limit: int) -> JSONResponse:
    return JSONResponse({"error": f"request body over {limit} bytes; split it"}, status_code=413)


async def read_body(request: Request, limit: int) -> bytes | Response:
    """The request body, decompressed when its Content-Encoding is gzip (the OpenLineage
    client's `compression: gzip`), or the answer refusing it: over `limit` bytes, before or
    after decompression (BoundedBody has answered a body over its limit or too slow already:
    the stream then ends as a disconnect), or an encoding this server cannot read."""
    chunks, size = [], 0
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                return too_large(limit)
            chunks.append(chunk)
    except ClientDisconnect:
        return too_large(limit)
    body = b"".join(chunks)
    encoding = request.headers.get("content-encoding", "identity").strip().lower()
    if encoding in ("", "identity"):
        return body
    if encoding not in ("gzip", "x-gzip"):
        return JSONResponse(
            {"error": f"Content-Encoding {encoding!r} is not read here: send gzip or none"},
            status_code=415,
        )
    inflate = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        plain = inflate.decompress(body, limit + 1)
    except zlib.error as exc:
        return JSONResponse({"error": f"the gzip body cannot be read: {exc}"}, status_code=400)
    if len(plain) > limit or inflate.unconsumed_tail:
        return too_large(limit)
    if not inflate.eof:
        return JSONResponse({"error": "the gzip body is cut short"}, status_code=400)
    return plain


def forbidden(role: str | None, needed: str, tokens: bool) -> JSONResponse:
    """403 for a request whose `role` is below `needed`, saying how to get the role."""
    if not tokens:
        return JSONResponse(
            {
                "error": f"this needs the {needed} role, and this server runs "
                "without tokens, so every request is a reader: serve with "
                "LINEAGE_TOKENS or --tokens to give roles"
            },
            status_code=403,
        )
    return JSONResponse(
        {"error": f"this needs the {needed} role; your token has {role or 'no'} role"},
        status_code=403,
    )
