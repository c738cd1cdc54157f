"""Small helpers shared by route modules: JSON responses, ISO times, paging."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field


def iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    return value.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")


def json_response(data: Any, status: int = 200) -> web.Response:
    return web.json_response(data, status=status, dumps=lambda obj: json.dumps(obj, ensure_ascii=False))


def client_address(request: web.Request) -> str:
    return request.remote or "unknown"


class PageQuery(BaseModel):
    """Seed 000 paging: ?page=1&pageSize=20."""

    model_config = ConfigDict(populate_by_name=True, extra="ignore")
    page: int = Field(1, ge=1, le=1_000_000)
    page_size: int = Field(20, alias="pageSize", ge=1, le=200)

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.page_size
