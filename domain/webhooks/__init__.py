"""Webhook delivery: signing (Standard Webhooks and a plain HMAC header) and the SSRF guard.

The endpoints, the delivery outbox and the delivery actor come with the webhooks issue's next steps.
"""
