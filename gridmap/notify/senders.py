"""Senders deliver one outbox message each, all behind one interface (``send(message)``), so the outbox
neither knows nor cares whether it goes out as a signed webhook to an integrator's system or straight to an
SMS gateway. A sender raises ``SendFailed`` for anything short of a confirmed delivery; the outbox then
tries again later and dead-letters after the last attempt."""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from typing import Protocol

import httpx
import orjson

SIGNATURE_HEADER = "X-Gridmap-Signature"
DELIVERY_HEADER = "X-Gridmap-Delivery"


class SendFailed(Exception):
    """A delivery that was not confirmed (refused, timed out, unreachable)."""


@dataclass(frozen=True)
class Message:
    """One message of the outbox as a sender sees it."""

    id: int
    incident_id: int
    event: str
    audience: str
    recipient_name: str | None
    recipient_phone: str
    body: str
    created_at: str  # ISO-8601 with offset

    def payload(self) -> dict:
        """The JSON a receiver gets."""
        return {
            "id": self.id, "incident": self.incident_id, "event": self.event, "audience": self.audience,
            "recipient": {"name": self.recipient_name, "phone": self.recipient_phone}, "text": self.body,
            "created_at": self.created_at,
        }  # fmt: skip


class Sender(Protocol):
    """Delivers one message or raises SendFailed."""

    def send(self, message: Message) -> None: ...


def signature(secret: str, body: bytes) -> str:
    """The ``X-Gridmap-Signature`` of ``body``: ``sha256=`` and the hex HMAC-SHA256 under ``secret``. A
    receiver computes the same over the raw body it got and compares with ``hmac.compare_digest``."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def _post(client: httpx.Client, url: str, **kwargs) -> None:
    try:
        response = client.post(url, **kwargs)
    except httpx.HTTPError as e:
        raise SendFailed(f"{type(e).__name__}: {e}") from None
    if not response.is_success:
        raise SendFailed(f"HTTP {response.status_code}: {response.text[:200]}")


class WebhookSender:
    """POSTs each message as JSON to ``url``, signed (``X-Gridmap-Signature``) and numbered
    (``X-Gridmap-Delivery``: the message id, the same on every retry, so a receiver can drop a repeat)."""

    def __init__(self, url: str, secret: str, timeout_s: float):
        self._url, self._secret = url, secret
        self._client = httpx.Client(timeout=timeout_s, follow_redirects=False)

    def send(self, message: Message) -> None:
        """Deliver ``message``; a 2xx answer is the receiver's confirmation."""
        body = orjson.dumps(message.payload())
        headers = {"Content-Type": "application/json; charset=utf-8", DELIVERY_HEADER: str(message.id),
                   SIGNATURE_HEADER: signature(self._secret, body)}  # fmt: skip
        _post(self._client, self._url, content=body, headers=headers)


class SmsGatewaySender:
    """POSTs each message to an SMS gateway as form fields ``phone``, ``text`` and ``id`` with a bearer key:
    the common shape of the HTTP gateways of China's SMS providers, or of a small adapter in front of one."""

    def __init__(self, url: str, key: str, timeout_s: float):
        self._url = url
        self._client = httpx.Client(timeout=timeout_s, follow_redirects=False,
                                    headers={"Authorization": f"Bearer {key}"} if key else {})  # fmt: skip

    def send(self, message: Message) -> None:
        """Hand ``message`` to the gateway; a 2xx answer means it took it."""
        form = {"phone": message.recipient_phone, "text": message.body, "id": str(message.id)}
        _post(self._client, self._url, data=form, headers={DELIVERY_HEADER: str(message.id)})


def sender_from_settings(notify) -> Sender | None:
    """The sender ``GRIDMAP_NOTIFY_SENDER`` chooses (NotifySettings), or None: messages then wait."""
    if notify.notify_sender == "webhook":
        return WebhookSender(notify.notify_webhook_url, notify.notify_webhook_secret.get_secret_value(),
                             notify.notify_timeout_s)  # fmt: skip
    if notify.notify_sender == "sms":
        return SmsGatewaySender(
            notify.notify_sms_url, notify.notify_sms_key.get_secret_value(), notify.notify_timeout_s
        )
    return None
