"""Webhook signing verifies with the Standard Webhooks library and plain HMAC; the SSRF guard refuses
every kind of internal target, including a name that resolves to loopback."""
from __future__ import annotations

import hashlib
import hmac
import json
import time

import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from core.ssrf import UnsafeTarget, resolve
from domain.webhooks.signing import new_secret, signature_headers, valid_secret


def test_secrets_are_whsec_with_32_random_bytes() -> None:
    first, second = new_secret(), new_secret()
    assert first.startswith("whsec_") and valid_secret(first) and first != second
    assert not valid_secret("whsec_c2hvcnQ=") and not valid_secret("plain") and not valid_secret("whsec_!!")


def test_a_signed_delivery_verifies_with_the_standard_webhooks_library() -> None:
    secret = new_secret()
    body = json.dumps({"event": "build.completed", "event_id": 7, "data": {"x": 1}}).encode()
    headers = signature_headers(secret, "dlv_42", int(time.time()), body)
    assert Webhook(secret).verify(body, headers) == json.loads(body)
    assert headers["webhook-id"] == "dlv_42"


def test_tampering_or_another_secret_fails_verification() -> None:
    secret = new_secret()
    body = b'{"event": "build.completed"}'
    headers = signature_headers(secret, "dlv_1", int(time.time()), body)
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(body.replace(b"completed", b"failed"), headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(new_secret()).verify(body, headers)
    stale = signature_headers(secret, "dlv_1", int(time.time()) - 600, body)
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(body, stale)


def test_the_plain_header_is_hmac_sha256_of_the_body_with_the_secret() -> None:
    secret = new_secret()
    body = b'{"event": "webhook.test"}'
    header = signature_headers(secret, "dlv_9", int(time.time()), body)["X-Webhook-Signature"]
    assert header == "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


@pytest.mark.parametrize("url", [
    "http://127.0.0.1/hook", "http://localhost:8080/hook", "http://10.1.2.3/", "http://192.168.0.10/",
    "http://172.16.5.4/", "http://169.254.169.254/latest/meta-data/", "http://[::1]/", "http://[::ffff:127.0.0.1]/",
    "http://[fe80::1]/", "http://224.0.0.1/", "http://0.0.0.0/", "http://100.64.0.1/", "http://[fc00::1]/",
])
def test_internal_targets_are_refused(url: str) -> None:
    with pytest.raises(UnsafeTarget):
        resolve(url)


@pytest.mark.parametrize("url", ["ftp://example.com/", "file:///etc/passwd", "http:///nohost",
                                 "http://user:pw@93.184.216.34/", "http://93.184.216.34:99999/"])
def test_malformed_or_non_http_urls_are_refused(url: str) -> None:
    with pytest.raises(UnsafeTarget):
        resolve(url)


def test_public_addresses_pass_and_allow_private_lifts_the_guard() -> None:
    assert resolve("https://93.184.216.34/hook") == ["93.184.216.34"]
    assert resolve("http://127.0.0.1:9/hook", allow_private=True) == ["127.0.0.1"]
    assert "127.0.0.1" in resolve("http://localhost/hook", allow_private=True)
