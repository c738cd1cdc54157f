"""The application factory: one aiohttp app serving webhooks, the REST APIs and /ws."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator

from aiohttp import web

from hub.api import (ai_hub, assistant, conversations, followups, inbox, spec, training, device_outbox, devices, health, ml_generation, ml_memory, ml_persona,
                     ml_sales, ml_style, ml_triage, responses, sync, v1_conversations)
from hub.auth import auth_middleware
from hub.clock import Clock, SystemClock
from hub.errors import error_middleware
from hub.event_relay import shared_across_processes
from hub.events import EventBus
from hub.jobs import Worker
from hub.outbox import SEND_OUTBOX
from hub.pipeline import LEARN_OUTBOUND, PROCESS_INBOUND
from hub.processing import InboundProcessor, inbound_job_handler
from hub.settings import Settings
from hub.approvals import CARD_JOB, REGENERATE_JOB, card_handler, regenerate_handler
from hub.brain_services import BrainServices
from hub.channels_runtime import add_webhook_routes, channels_ctx, enabled_channels
from hub.dispatch import send_handler
from hub.analysis_step import analysis_step
from hub.brain_steps import draft_step, learn_outbound_handler
from scheduler.followups import cancel_on_inbound
from scheduler.runtime import scheduler_ctx
from hub.state import BRAIN, BUS, CLOCK, DB, DEVICE_TOUCHES, SETTINGS, WORKER
from storage import migrate
from storage.db import Database

log = logging.getLogger("replydesk.app")
PROCESSORS: web.AppKey[list[InboundProcessor]] = web.AppKey("processors")
# A request line aiohttp's parser refuses is a text/plain 400 outside every family's envelope; seed 002's
# POST /prompt carries up to 8,000 characters in its query (percent-encoded UTF-8: up to 12 bytes each).
MAX_REQUEST_LINE = 256 * 1024
ROUTE_MODULES = (health, devices, sync, device_outbox, conversations, responses, ml_generation, ml_memory,
                 ml_style, ml_persona, ml_triage, ml_sales, v1_conversations, assistant, ai_hub, training,
                 followups, spec, inbox)


def _database_ctx(run_migrations: bool):
    async def ctx(app: web.Application) -> AsyncIterator[None]:
        settings = app[SETTINGS]
        if run_migrations:
            await asyncio.to_thread(migrate.upgrade, settings.database_url)
        db = Database(settings.database_url, echo=settings.database.echo,
                      sqlite_synchronous=settings.database.sqlite_synchronous)
        app[DB] = db
        yield
        await db.dispose()
    return ctx


def _worker_ctx(start: bool):
    async def ctx(app: web.Application) -> AsyncIterator[None]:
        settings = app[SETTINGS]
        worker = Worker(app[DB], {PROCESS_INBOUND: inbound_job_handler(app[DB], app[PROCESSORS]),
                                  LEARN_OUTBOUND: learn_outbound_handler(app),
                                  SEND_OUTBOX: send_handler(app),
                                  CARD_JOB: card_handler(app),
                                  REGENERATE_JOB: regenerate_handler(app)},
                        settings.worker, app[CLOCK])
        for module in ROUTE_MODULES:  # a module with background work registers its job kinds
            if hasattr(module, "register_jobs"):
                module.register_jobs(app, worker)
        app[WORKER] = worker
        if start:
            worker.start()
        yield
        await worker.stop()
    return ctx


async def _warm_up(app: web.Application, brain: BrainServices) -> None:
    """Load the models, then train (first start) or load the classifier heads, so the first
    inbound message is analysed as fast as the next one."""
    from brain.analysis import analyze_inbound
    from hub.api.ml_triage import classifiers

    await brain.warm_up()
    try:
        await analyze_inbound(await brain.embedder(), "Hi! How much for a session on Friday?",
                              conversation=[], models=classifiers(app))
    except asyncio.CancelledError:
        raise
    except Exception:
        log.exception("could not prepare the classifiers at start; they are built on first use")


def _brain_ctx(injected: BrainServices | None):
    async def ctx(app: web.Application) -> AsyncIterator[None]:
        brain = injected or BrainServices(app[SETTINGS])
        app[BRAIN] = brain
        warming = None
        if injected is None and app[SETTINGS].brain.warm_up:
            warming = asyncio.create_task(_warm_up(app, brain), name="replydesk-brain-warm-up")
        yield
        if warming is not None:
            warming.cancel()
            await asyncio.gather(warming, return_exceptions=True)
        if injected is None:
            await brain.close()
    return ctx


async def _bus_ctx(app: web.Application) -> AsyncIterator[None]:
    app[BUS] = EventBus()
    async with shared_across_processes(app[BUS], app[DB]):  # PostgreSQL: every process's /ws hears all
        yield
    app[BUS].close()


def create_app(settings: Settings, *, clock: Clock | None = None, start_worker: bool = True,
               run_migrations: bool = True, brain: BrainServices | None = None) -> web.Application:
    """The whole hub. `brain` may be shared (tests load the models once); else the app builds
    its own and, with `brain.warm_up`, loads the models in the background at start."""
    app = web.Application(client_max_size=settings.server.max_body_bytes,
                          middlewares=[error_middleware, auth_middleware],
                          handler_args={"max_line_size": MAX_REQUEST_LINE})
    app[SETTINGS] = settings
    app[CLOCK] = clock or SystemClock()
    app[PROCESSORS] = [cancel_on_inbound(app), analysis_step(app), draft_step(app)]
    app[DEVICE_TOUCHES] = {}
    app.cleanup_ctx.append(_database_ctx(run_migrations))
    app.cleanup_ctx.append(_bus_ctx)
    app.cleanup_ctx.append(_brain_ctx(brain))
    channel_names = enabled_channels(settings)
    app.cleanup_ctx.append(channels_ctx(channel_names))
    app.cleanup_ctx.append(_worker_ctx(start_worker))
    app.cleanup_ctx.append(scheduler_ctx)
    app.cleanup_ctx.append(training.training_ctx)  # stops this hub's training runs before the database
    for module in ROUTE_MODULES:
        app.router.add_routes(module.routes)
    add_webhook_routes(app, channel_names)
    return app
