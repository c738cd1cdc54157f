"""Pure mapping of Twilio Messaging webhooks (WhatsApp and SMS) into channel events.

Nothing here does I/O. An inbound message's sender becomes an E.164 phone handle whichever network
it came by, so one person is one contact across SMS and WhatsApp; the thread is
`{network}:{their number}` so a reply leaves on the network the message came in on. Media URLs are
kept, never fetched here (see TwilioChannel.fetch_media).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from multidict import MultiDict

from channels.base import Attachment, ChannelEvent, DeliveryUpdate, InboundMessage, ParsedWebhook
from channels.handles import normalize_handle

NAME = "twilio"
MESSAGE = "message"
STATUS = "status"
WHATSAPP = "whatsapp"
SMS = "sms"
NETWORKS = (WHATSAPP, SMS)
# The answer Twilio documents for "received, no reply". It must go out as text/xml: Twilio texts
# a text/plain answer back to the sender as a message (see the report on hub/channels_runtime._ack).
EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response/>'
TWILIO_HOSTS = frozenset({"api.twilio.com", "media.twiliocdn.com"})
TWILIO_DOMAINS = (".twilio.com", ".twiliocdn.com")
_MIME_KINDS = (("image/", "photo"), ("video/", "video"), ("audio/", "voice"), ("text/vcard", "contact"),
               ("text/x-vcard", "contact"))


def form_params(body: bytes) -> MultiDict[str]:
    """The form Twilio posted, repeated keys kept (the signature covers every value)."""
    return MultiDict(parse_qsl(body.decode("utf-8", errors="replace"), keep_blank_values=True))


def network_of(address: str) -> str:
    return WHATSAPP if address.strip().lower().startswith("whatsapp:") else SMS


def bare_address(address: str) -> str:
    """`whatsapp:+14155550100` → `+14155550100`; SMS addresses are already bare."""
    address = address.strip()
    return address.split(":", 1)[1] if address.lower().startswith("whatsapp:") else address


def thread_id_for(network: str, number: str) -> str:
    return f"{network}:{number}"


def split_thread(thread_id: str) -> tuple[str, str]:
    """`whatsapp:+1555…` → ("whatsapp", "+1555…"). Raises ValueError for anything else."""
    network, _, number = (thread_id or "").partition(":")
    if network not in NETWORKS or not number:
        raise ValueError(f"not a Twilio thread id: {thread_id!r}")
    return network, number


def address_for(network: str, number: str) -> str:
    """The `To`/`From` form Twilio wants on a network."""
    return f"whatsapp:{number}" if network == WHATSAPP else number


def is_twilio_host(url: str) -> bool:
    """Twilio's API and media CDN hosts, over HTTPS only."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    return parts.scheme == "https" and (host in TWILIO_HOSTS or host.endswith(TWILIO_DOMAINS))


def _kind(mime: str) -> str:
    mime = mime.lower()
    return next((kind for prefix, kind in _MIME_KINDS if mime.startswith(prefix)), "document")


def media_attachments(form: Mapping[str, str]) -> list[Attachment]:
    """MediaUrlN / MediaContentTypeN, N < NumMedia: the URLs are kept, nothing is fetched."""
    try:
        count = int(form.get("NumMedia") or 0)
    except ValueError:
        count = 0
    found = []
    for n in range(max(0, min(count, 10))):  # Twilio sends at most 10 media per message
        url = form.get(f"MediaUrl{n}") or ""
        if url:
            mime = form.get(f"MediaContentType{n}") or ""
            found.append(Attachment(_kind(mime), name=url.rstrip("/").rsplit("/", 1)[-1], mime_type=mime, url=url,
                                    extra={"media_index": n}))
    return found


def location_attachment(form: Mapping[str, str]) -> Attachment | None:
    """A WhatsApp location pin: Latitude/Longitude, with Address and Label for a named place."""
    latitude, longitude = form.get("Latitude"), form.get("Longitude")
    if not latitude or not longitude:
        return None
    try:
        extra: dict[str, Any] = {"latitude": float(latitude), "longitude": float(longitude)}
    except ValueError:
        return None
    for key in ("Address", "Label"):
        if form.get(key):
            extra[key.lower()] = form[key]
    return Attachment("location", name=form.get("Label") or form.get("Address") or "", extra=extra)


def _raw(form: Mapping[str, str], network: str) -> dict[str, Any]:
    raw: dict[str, Any] = {key: form[key] for key in form}
    raw["network"] = network
    if form.get("ButtonPayload") or form.get("ButtonText"):
        raw["button_text"], raw["button_payload"] = form.get("ButtonText") or "", form.get("ButtonPayload") or ""
    return raw


def parse_message(form: Mapping[str, str], received_at: datetime) -> InboundMessage:
    """An inbound WhatsApp or SMS message. Twilio dates nothing, so the time is when it arrived.
    STOP / START / HELP, which Twilio answers itself (OptOutType), are service messages: no draft."""
    sid, sender = form.get("MessageSid") or form.get("SmsMessageSid"), form.get("From") or ""
    if not sid or not sender:
        raise ValueError("a Twilio message webhook without MessageSid or From")
    network = network_of(sender)
    handle = normalize_handle(bare_address(sender), fallback_kind=NAME)
    if handle is None:
        raise ValueError("a Twilio message webhook with an empty From")
    attachments = media_attachments(form)
    location = location_attachment(form)
    if location is not None:
        attachments.append(location)
    text = form.get("Body") or form.get("ButtonText") or ""
    kind = "text" if text or not attachments else attachments[0].kind
    return InboundMessage(
        channel=NAME, external_id=sid, thread_id=thread_id_for(network, handle.value), sender=handle,
        text=text, sent_at=received_at, sender_name=form.get("ProfileName") or "", participants=(handle,),
        attachments=tuple(attachments), message_type="service" if form.get("OptOutType") else kind,
        reply_to_external_id=form.get("OriginalRepliedMessageSid") or None, raw=_raw(form, network))


def parse_status(form: Mapping[str, str], received_at: datetime) -> DeliveryUpdate:
    """A status callback for a message we sent; the hub applies it as a monotonic state machine."""
    sid, status = form.get("MessageSid") or form.get("SmsSid"), form.get("MessageStatus") or form.get("SmsStatus")
    if not sid or not status:
        raise ValueError("a Twilio status callback without MessageSid or MessageStatus")
    return DeliveryUpdate(channel=NAME, provider_message_id=sid, status=status.strip().lower(), at=received_at,
                          error_code=form.get("ErrorCode") or None,
                          error_message=form.get("ErrorMessage") or form.get("ChannelStatusMessage") or None,
                          raw={key: form[key] for key in form})


def parse_webhook(endpoint: str, body: bytes, received_at: datetime) -> ParsedWebhook:
    """An inbound message is acknowledged with empty TwiML (no automatic reply: every reply waits for
    the owner); a status callback with an empty 204."""
    form = form_params(body)
    events: list[ChannelEvent]
    if endpoint == MESSAGE:
        return ParsedWebhook(events=[parse_message(form, received_at)], ack_status=200, ack_body=EMPTY_TWIML,
                             ack_content_type="text/xml")
    if endpoint == STATUS:
        return ParsedWebhook(events=[parse_status(form, received_at)], ack_status=204)
    raise ValueError(f"unknown Twilio endpoint {endpoint!r}")
