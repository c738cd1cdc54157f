"""Seed 004 set-up routes: assistants, knowledge folders and their documents (text, Markdown, PDF),
chunked and embedded into the knowledge index. Served with the ask route by hub/api/ai_hub.py."""

from __future__ import annotations

import asyncio
import hashlib
import weakref
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal

import sqlalchemy as sa
from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from brain import knowledge as kb
from hub.api.common import iso, json_response
from hub.errors import ApiError, ValidationFailed
from hub.state import BRAIN, CLOCK, DB, SETTINGS
from hub.validation import parse_body
from storage.db import Database
from storage.models import Assistant, KnowledgeDocument, KnowledgeFolder, new_uid

routes = web.RouteTableDef()
BASE = "/api/ai-hub"
REQUIRED_MESSAGES = {"assistantId": "The assistant id is required!", "message": "The message is required!",
                     "message.content": "The message content is required!"}
FolderIds = list[Annotated[str, Field(min_length=1, max_length=64)]]


class Body(BaseModel):
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)


class AssistantBody(Body):
    id: str | None = Field(None, pattern=r"^[A-Za-z0-9_.:-]{1,64}$")
    name: str = Field(min_length=1, max_length=255)
    instructions: str = Field("", max_length=4000)
    foldersId: FolderIds = Field(default_factory=list, max_length=20)


class FolderBody(Body):
    name: str = Field(min_length=1, max_length=255)


class TextDocument(Body):
    filename: str = Field(min_length=1, max_length=512)
    text: str = Field(min_length=1)
    mimeType: Literal["text/plain", "text/markdown"] | None = None


# ---------------------------------------------------------------- shared with the ask route

def seed_issues(raw: list[dict[str, Any]]) -> list[dict[str, str]]:
    """hub.validation's issues in the seed's shape: [{"field": "assistantId", "message": "…"}]."""
    issues = []
    for issue in raw:
        name, kind = ("body" if issue["path"] == "(body)" else issue["path"]), issue.get("type")
        if kind in ("missing", "string_too_short") and name in REQUIRED_MESSAGES:
            message = REQUIRED_MESSAGES[name]
        else:
            message = f"{name} is required" if kind == "missing" else issue["message"]
        issues.append({"field": name, "message": message})
    return issues


async def parse(request: web.Request, model: type[Any], problem: str) -> Any:
    try:
        return await parse_body(request, model)
    except ValidationFailed as exc:
        raise ValidationFailed(problem, seed_issues(exc.issues)) from None


@dataclass
class _Index:
    index: kb.KnowledgeIndex | None = None
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


# Per app, without a global shared between apps (hub.state has no key for it yet).
_INDEXES: weakref.WeakKeyDictionary[web.Application, _Index] = weakref.WeakKeyDictionary()


async def knowledge_index(app: web.Application) -> kb.KnowledgeIndex:
    """The app's knowledge index, opened on first use beside the memory store (or on its Chroma server)."""
    holder = _INDEXES.setdefault(app, _Index())
    async with holder.lock:
        if holder.index is None:
            embedder, brain = await app[BRAIN].embedder(), app[SETTINGS].brain
            holder.index = (kb.KnowledgeIndex(embedder, url=brain.memory_url) if brain.memory_url else
                            kb.KnowledgeIndex(embedder, path=Path(app[SETTINGS].data_path) / "knowledge"))
    return holder.index


async def folder_names(db: Database, ids: list[str]) -> dict[str, str]:
    """id -> name of the folders that exist, in the order asked."""
    rows = await db.rows(sa.select(KnowledgeFolder.id, KnowledgeFolder.name)
                         .where(KnowledgeFolder.id.in_(ids))) if ids else []
    names = {row.id: row.name for row in rows}
    return {fid: names[fid] for fid in dict.fromkeys(ids) if fid in names}


async def require_folders(db: Database, ids: list[str], problem: str) -> dict[str, str]:
    found = await folder_names(db, ids)
    missing = [{"field": f"foldersId.{i}", "message": f"Knowledge folder {fid} not found"}
               for i, fid in enumerate(ids) if fid not in found]
    if missing:
        raise ValidationFailed(problem, missing)
    return found


# ---------------------------------------------------------------- views

def assistant_view(row: Any) -> dict[str, Any]:
    return {"id": row.id, "name": row.name, "instructions": row.instructions, "foldersId": list(row.folder_ids or []),
            "createdAt": iso(row.created_at), "updatedAt": iso(row.updated_at)}


def folder_view(row: Any, documents: int) -> dict[str, Any]:
    return {"id": row.id, "name": row.name, "documents": documents, "createdAt": iso(row.created_at)}


def document_view(row: Any) -> dict[str, Any]:
    return {"id": row.id, "folderId": row.folder_id, "filename": row.filename, "mimeType": row.mime_type,
            "size": row.size, "chunks": row.chunks, "sha256": row.sha256, "createdAt": iso(row.created_at)}


async def _require(db: Database, model: Any, key: str, what: str) -> Any:
    row = await db.first(sa.select(model).where(model.id == key))
    if row is None:
        raise ApiError(404, f"{what} {key} not found")
    return row


# ---------------------------------------------------------------- assistants

@routes.post(BASE + "/assistants")
async def create_assistant(request: web.Request) -> web.Response:
    db, now = request.app[DB], request.app[CLOCK].now()
    body = await parse(request, AssistantBody, "Invalid assistant")
    await require_folders(db, body.foldersId, "Invalid assistant")
    assistant_id = body.id or new_uid()
    insert = db.insert_ignore(Assistant).values(
        id=assistant_id, name=body.name, instructions=body.instructions,
        folder_ids=list(dict.fromkeys(body.foldersId)), created_at=now, updated_at=now).returning(Assistant.id)
    if await db.write(lambda conn: conn.execute(insert).scalar()) is None:  # the id is taken
        raise ApiError(409, f"Assistant {assistant_id} already exists")
    row = await _require(db, Assistant, assistant_id, "Assistant")
    return json_response({"success": True, "assistant": assistant_view(row)}, status=201)


@routes.get(BASE + "/assistants")
async def list_assistants(request: web.Request) -> web.Response:
    rows = await request.app[DB].rows(sa.select(Assistant).order_by(Assistant.created_at, Assistant.id))
    return json_response({"success": True, "assistants": [assistant_view(row) for row in rows]})


@routes.get(BASE + "/assistants/{id}")
async def get_assistant(request: web.Request) -> web.Response:
    row = await _require(request.app[DB], Assistant, request.match_info["id"], "Assistant")
    return json_response({"success": True, "assistant": assistant_view(row)})


@routes.delete(BASE + "/assistants/{id}")
async def delete_assistant(request: web.Request) -> web.Response:
    assistant_id = request.match_info["id"]
    if await request.app[DB].execute(sa.delete(Assistant).where(Assistant.id == assistant_id)) == 0:
        raise ApiError(404, f"Assistant {assistant_id} not found")
    return json_response({"success": True, "id": assistant_id})


# ---------------------------------------------------------------- folders

@routes.post(BASE + "/folders")
async def create_folder(request: web.Request) -> web.Response:
    db, now = request.app[DB], request.app[CLOCK].now()
    body = await parse(request, FolderBody, "Invalid folder")
    folder_id = new_uid()
    await db.execute(sa.insert(KnowledgeFolder).values(id=folder_id, name=body.name, created_at=now))
    row = await _require(db, KnowledgeFolder, folder_id, "Knowledge folder")
    return json_response({"success": True, "folder": folder_view(row, 0)}, status=201)


@routes.get(BASE + "/folders")
async def list_folders(request: web.Request) -> web.Response:
    counts = (sa.select(KnowledgeDocument.folder_id, sa.func.count().label("n"))
              .group_by(KnowledgeDocument.folder_id).subquery())
    rows = await request.app[DB].rows(
        sa.select(KnowledgeFolder, sa.func.coalesce(counts.c.n, 0).label("documents"))
        .outerjoin(counts, counts.c.folder_id == KnowledgeFolder.id)
        .order_by(KnowledgeFolder.created_at, KnowledgeFolder.id))
    return json_response({"success": True, "folders": [folder_view(row, row.documents) for row in rows]})


def _delete_folder(conn: sa.Connection, folder_id: str) -> bool:
    """Drop the folder, its documents, and its id from every assistant that named it."""
    conn.execute(sa.delete(KnowledgeDocument).where(KnowledgeDocument.folder_id == folder_id))
    for row in conn.execute(sa.select(Assistant.id, Assistant.folder_ids)).all():
        if folder_id in (row.folder_ids or []):
            kept = [fid for fid in row.folder_ids if fid != folder_id]
            conn.execute(sa.update(Assistant).where(Assistant.id == row.id).values(folder_ids=kept))
    return conn.execute(sa.delete(KnowledgeFolder).where(KnowledgeFolder.id == folder_id)).rowcount > 0


@routes.delete(BASE + "/folders/{id}")
async def delete_folder(request: web.Request) -> web.Response:
    folder_id = request.match_info["id"]
    if not await request.app[DB].write(_delete_folder, folder_id):
        raise ApiError(404, f"Knowledge folder {folder_id} not found")
    await (await knowledge_index(request.app)).delete_folder(folder_id)
    return json_response({"success": True, "id": folder_id})


# ---------------------------------------------------------------- documents

async def _upload(request: web.Request) -> tuple[str, str, bytes]:
    """(filename, declared type, bytes) from a multipart `file` field or a JSON {filename, text}."""
    if request.content_type.startswith("multipart/"):
        form = await request.post()  # bounded by server.max_body_bytes (413 beyond)
        upload = form.get("file")
        if not isinstance(upload, web.FileField):
            raise ValidationFailed("Invalid document", [{"field": "file", "message": "file is required"}])
        data = await asyncio.to_thread(upload.file.read)
        return upload.filename or "document", upload.content_type or "", data
    body = await parse(request, TextDocument, "Invalid document")
    return body.filename, body.mimeType or "", body.text.encode()


def _chunks(data: bytes, kind: kb.Kind) -> list[kb.Chunk]:
    return kb.chunk_text(kb.extract_text(data, kind), markdown=kind == "markdown")


_MIME = {"pdf": "application/pdf", "markdown": "text/markdown", "text": "text/plain"}


@routes.post(BASE + "/folders/{id}/documents")
async def upload_document(request: web.Request) -> web.Response:
    db, now = request.app[DB], request.app[CLOCK].now()
    folder = await _require(db, KnowledgeFolder, request.match_info["id"], "Knowledge folder")
    filename, content_type, data = await _upload(request)
    filename, digest = Path(filename.replace("\\", "/").replace("\x00", "")).name[:512] or "document", hashlib.sha256(data).hexdigest()
    same = await db.first(sa.select(KnowledgeDocument).where(
        KnowledgeDocument.folder_id == folder.id, KnowledgeDocument.sha256 == digest))
    if same is not None:
        return json_response({"success": True, "document": document_view(same), "duplicate": True})
    try:
        kind = kb.document_kind(filename, content_type, data)
        chunks = await asyncio.to_thread(_chunks, data, kind)
    except kb.UnsupportedDocument as exc:
        raise ApiError(415, str(exc)) from None
    except kb.UnreadableDocument as exc:
        raise ValidationFailed("Invalid document", [{"field": "file", "message": str(exc)}]) from None
    document_id, index = new_uid(), await knowledge_index(request.app)
    await index.add(document_id, folder.id, filename, chunks)  # chunks first: a row always has its chunks
    try:
        await db.execute(sa.insert(KnowledgeDocument).values(
            id=document_id, folder_id=folder.id, filename=filename, mime_type=_MIME[kind], size=len(data),
            chunks=len(chunks), sha256=digest, created_at=now))
    except BaseException:
        await asyncio.shield(index.delete_document(document_id))
        raise
    row = await _require(db, KnowledgeDocument, document_id, "Document")
    return json_response({"success": True, "document": document_view(row), "duplicate": False}, status=201)


@routes.get(BASE + "/folders/{id}/documents")
async def list_documents(request: web.Request) -> web.Response:
    db = request.app[DB]
    folder = await _require(db, KnowledgeFolder, request.match_info["id"], "Knowledge folder")
    rows = await db.rows(sa.select(KnowledgeDocument).where(KnowledgeDocument.folder_id == folder.id)
                         .order_by(KnowledgeDocument.created_at, KnowledgeDocument.id))
    return json_response({"success": True, "documents": [document_view(row) for row in rows]})


@routes.delete(BASE + "/documents/{id}")
async def delete_document(request: web.Request) -> web.Response:
    document_id = request.match_info["id"]
    if await request.app[DB].execute(sa.delete(KnowledgeDocument).where(KnowledgeDocument.id == document_id)) == 0:
        raise ApiError(404, f"Document {document_id} not found")
    await (await knowledge_index(request.app)).delete_document(document_id)
    return json_response({"success": True, "id": document_id})
