"""Channel adapters, by name. An explicit registry (no plugin loading); each adapter's module is
imported only when that channel is enabled, so an unused SDK is never loaded."""

from __future__ import annotations

import importlib
from typing import Any

REGISTRY: dict[str, str] = {
    "telegram": "channels.telegram:TelegramChannel",
    "slack": "channels.slack:SlackChannel",
    "twilio": "channels.twilio:TwilioChannel",
    "email": "channels.email:EmailChannel",
    "bluebubbles": "channels.bluebubbles:BlueBubblesChannel",
}


def channel_class(name: str) -> Any:
    module, _, attr = REGISTRY[name].partition(":")
    return getattr(importlib.import_module(module), attr)
