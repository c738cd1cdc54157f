"""The Bot API transport over a shared aiohttp session: the token stays out of every URL python-
telegram-bot builds, and failures are told apart (nothing sent, Telegram down, outcome unknown)."""

from __future__ import annotations

import warnings
from collections.abc import AsyncIterator

import aiohttp
import pytest
from telegram.error import InvalidToken, TimedOut
from telegram.warnings import PTBDeprecationWarning

from channels.base import OutboundMessage
from channels.telegram import TelegramChannel, send_failure
from channels.telegram_http import (TOKEN_SLOT, AiohttpRequest, ConnectFailed, RateLimited, ServerError,
                                    TokenSafeBot, bot_api_url, bot_id_of)
from hub.settings import TelegramSettings
from tests.channels.fakes.telegram_api import BOT_USER, TOKEN


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as shared:
        yield shared


def bot_for(api_base_url: str, session: aiohttp.ClientSession, token: str = TOKEN, **request: float) -> TokenSafeBot:
    return TokenSafeBot(token, base_url=bot_api_url(api_base_url), base_file_url=bot_api_url(api_base_url, files=True),
               request=AiohttpRequest(session, token, **request),
               get_updates_request=AiohttpRequest(session, token, **request))


def test_bot_urls_hold_a_placeholder_not_the_token(session):
    bot = bot_for("https://api.telegram.org/", session)
    assert bot.base_url == f"https://api.telegram.org/bot{TOKEN_SLOT}"
    assert bot.base_file_url == f"https://api.telegram.org/file/bot{TOKEN_SLOT}"
    assert repr(bot) == f"Bot[id={BOT_USER['id']}]" and TOKEN not in bot.base_url


def test_the_bot_id_is_read_from_the_token():
    assert bot_id_of(TOKEN) == BOT_USER["id"]
    for bad in ("", "abc", "123", ":secret", "12:bad token"):
        with pytest.raises(ValueError, match="does not look like a bot token"):
            bot_id_of(bad)


async def test_calls_reach_the_api_with_the_real_token(telegram_api, session):
    me = await bot_for(telegram_api.url, session).get_me()
    assert me.id == BOT_USER["id"] and telegram_api.calls[-1].token_ok


async def test_a_429_is_rate_limited_with_its_seconds_and_no_deprecation_warning(telegram_api, session):
    telegram_api.rate_limit("sendMessage", retry_after=12)
    with warnings.catch_warnings():
        warnings.simplefilter("error", PTBDeprecationWarning)
        with pytest.raises(RateLimited) as raised:
            await bot_for(telegram_api.url, session).send_message(1, "hi")
        result = send_failure(raised.value)
    assert (result.retryable, result.retry_after) == (True, 12.0)


async def test_a_5xx_is_a_server_error(telegram_api, session):
    telegram_api.fail("sendMessage", status=503, description="Service Unavailable")
    with pytest.raises(ServerError):
        await bot_for(telegram_api.url, session).send_message(1, "hi")


async def test_no_answer_in_time_means_the_outcome_is_unknown(telegram_api, session):
    release = telegram_api.stall("sendMessage")
    with pytest.raises(TimedOut) as raised:
        await bot_for(telegram_api.url, session, read_timeout=0.05).send_message(1, "hi")
    release.set()
    result = send_failure(raised.value)
    assert not result.retryable and (result.error or "").startswith("outcome unknown")


async def test_a_rejected_token_is_reported_without_it(telegram_api, session):
    wrong = f"{BOT_USER['id']}:AAH-some-other-token-0123456789abcdef"
    with pytest.raises(InvalidToken) as raised:
        await bot_for(telegram_api.url, session, token=wrong).send_message(1, "hi")
    assert wrong not in str(raised.value) and "AAH-some-other" not in send_failure(raised.value).error


async def test_an_unreachable_api_is_safe_to_retry(session):
    with pytest.raises(ConnectFailed) as raised:
        await bot_for("http://127.0.0.1:9", session).send_message(1, "hi")  # the discard port
    assert TOKEN not in str(raised.value) and raised.value.__cause__ is None
    settings = TelegramSettings(enabled=True, bot_token=TOKEN, webhook_secret="s", api_base_url="http://127.0.0.1:9")
    result = await TelegramChannel(settings, session=session).send(OutboundMessage("telegram", "1", "hi", "k"))
    assert result.retryable and not result.ok and TOKEN not in (result.error or "")
