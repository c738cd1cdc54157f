"""Typed application and request state keys (aiohttp AppKey / RequestKey)."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

import aiohttp

from aiohttp import web

from hub.clock import Clock
from hub.settings import Settings
from storage.db import Database

if TYPE_CHECKING:
    from hub.auth import Principal
    from hub.brain_services import BrainServices
    from hub.events import EventBus
    from hub.jobs import Worker

SETTINGS = web.AppKey("settings", Settings)
DB = web.AppKey("db", Database)
CLOCK = web.AppKey("clock", Clock)
BUS: web.AppKey["EventBus"] = web.AppKey("bus")
WORKER: web.AppKey["Worker"] = web.AppKey("worker")
BRAIN: web.AppKey["BrainServices"] = web.AppKey("brain")
CHANNELS: web.AppKey[dict[str, Any]] = web.AppKey("channels")  # enabled adapters by name
HTTP: web.AppKey[aiohttp.ClientSession] = web.AppKey("http")  # the one shared client session
BACKGROUND: web.AppKey[Any] = web.AppKey("background")  # hub.channels_runtime.BackgroundTasks
DEVICE_TOUCHES: web.AppKey[dict[str, datetime]] = web.AppKey("device_touches")
PRINCIPAL: web.RequestKey["Principal"] = web.RequestKey("principal")
