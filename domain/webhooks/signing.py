"""Sign a delivery so receivers can verify it with the Standard Webhooks libraries or with plain HMAC.

- `webhook-id`, `webhook-timestamp`, `webhook-signature: v1,<base64>`: HMAC-SHA256 over
  `"{id}.{timestamp}.{body}"` keyed with the base64-decoded part of the `whsec_...` secret, as the
  Standard Webhooks specification defines.
- `X-Webhook-Signature: sha256=<hex>`: HMAC-SHA256 of the raw body keyed with the whole secret string.

The timestamp is each attempt's send time (receivers refuse ones more than 5 minutes off); the id is the
delivery's, the same on every retry, so receivers can drop duplicates.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

PREFIX = "whsec_"
SECRET_BYTES = 32


def new_secret() -> str:
    return PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def valid_secret(secret: str) -> bool:
    """A `whsec_` secret whose key is base64 of at least 24 bytes."""
    if not secret.startswith(PREFIX):
        return False
    try:
        return len(base64.b64decode(secret[len(PREFIX):], validate=True)) >= 24
    except ValueError:
        return False


def signature_headers(secret: str, message_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    key = base64.b64decode(secret[len(PREFIX):])
    signed = f"{message_id}.{timestamp}.".encode() + body
    standard = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    plain = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": f"v1,{standard}",
        "X-Webhook-Signature": f"sha256={plain}",
    }
