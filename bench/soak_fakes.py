"""The soak's fake outside world, each a real HTTP server on port 0: the platforms (the test suite's
fakes, driven by the real SDKs) recording every send, and an OpenAI-compatible model server that
drafts instantly, so the soak exercises the plumbing at volume rather than the model's speed."""

from __future__ import annotations

import itertools
from collections import Counter
from typing import Any

from aiohttp import web

from bench import soak_traffic as traffic
from tests.channels.fakes.bluebubbles_server import FakeBlueBubblesServer
from tests.channels.fakes.slack_api import FakeSlackApi
from tests.channels.fakes.telegram_api import TOKEN as TELEGRAM_TOKEN, FakeTelegram
from tests.channels.fakes.twilio_api import FakeTwilioApi


class FakeModelServer:
    """/v1/models and /v1/chat/completions; every draft is a distinct sentence, so a send can be
    matched to the one draft it came from."""

    def __init__(self) -> None:
        self.drafts = itertools.count(1)
        self._runner: web.AppRunner | None = None
        self.url = ""

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/v1/models", self._models)
        app.router.add_post("/v1/chat/completions", self._chat)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0).start()
        self.url = f"http://127.0.0.1:{self._runner.addresses[0][1]}/v1"

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _models(self, request: web.Request) -> web.Response:
        return web.json_response({"object": "list", "data": [{"id": "soak-drafter", "object": "model"}]})

    async def _chat(self, request: web.Request) -> web.Response:
        await request.json()
        text = f"Thanks for getting in touch, happy to help with that. Reference {next(self.drafts)}."
        tokens = [{"token": word, "logprob": -0.05} for word in text.split()]
        return web.json_response({
            "id": "chatcmpl-soak", "object": "chat.completion", "model": "soak-drafter",
            "choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": text},
                         "logprobs": {"content": tokens}}],
            "usage": {"prompt_tokens": 100, "completion_tokens": len(tokens)}})


class Platforms:
    """Every platform fake, started and closed together; `sent()` counts the replies they received."""

    def __init__(self) -> None:
        self.telegram = FakeTelegram()
        self.slack = FakeSlackApi()
        self.twilio = FakeTwilioApi(traffic.TWILIO_SID, traffic.TWILIO_TOKEN)
        self.bluebubbles = FakeBlueBubblesServer(traffic.BLUEBUBBLES_PASSWORD)
        self.model = FakeModelServer()

    def all(self) -> tuple[Any, ...]:
        return self.telegram, self.slack, self.twilio, self.bluebubbles, self.model

    async def start(self) -> None:
        for server in self.all():
            await server.start()

    async def close(self) -> None:
        for server in self.all():
            await server.close()

    def sent(self) -> Counter[str]:
        """How many times each reply text reached a customer, over all platforms."""
        texts = [c.params.get("text", "") for c in self.telegram.calls_to("sendMessage") if c.status == 200]
        texts += [c.body.get("text", "") for c in self.slack.calls_to("chat.postMessage")]
        texts += [c.get("Body") or "" for c in self.twilio.creates]
        texts += [str(c.body.get("message", "")) for c in self.bluebubbles.calls_to("/api/v1/message/text")]
        return Counter(texts)

    def config(self) -> str:
        """The `[brain]` and `[channels.*]` tables pointing a hub at these fakes."""
        return f'''
[brain]
llm_backend = "openai"
openai_base_url = "{self.model.url}"
openai_model = "soak-drafter"
warm_up = true
[channels.telegram]
enabled = true
bot_token = "{TELEGRAM_TOKEN}"
webhook_secret = "{traffic.TELEGRAM_SECRET}"
api_base_url = "{self.telegram.url}"
[channels.slack]
enabled = true
bot_token = "xoxb-soak"
signing_secret = "{traffic.SLACK_SECRET}"
api_base_url = "{self.slack.base_url}"
[channels.twilio]
enabled = true
account_sid = "{traffic.TWILIO_SID}"
auth_token = "{traffic.TWILIO_TOKEN}"
sms_from = "{traffic.TWILIO_SMS_FROM}"
whatsapp_from = "{traffic.TWILIO_WHATSAPP_FROM}"
api_base_url = "{self.twilio.base_url}"
[channels.bluebubbles]
enabled = true
url = "{self.bluebubbles.url}"
password = "{traffic.BLUEBUBBLES_PASSWORD}"
reconcile_seconds = 30
'''
