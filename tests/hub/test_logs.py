"""Secrets never reach logs: tokens, keys, bot tokens, passwords in URLs, tracebacks included."""

from __future__ import annotations

import logging

from hub.logs import RedactingFilter, redact

SECRETS = ["rd_AbCdEfGhIjKlMnOpQrStUvWxYz012345", "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw",
           "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJkZXZpY2UifQ.c2lnbmF0dXJl", "hunter2password"]


def test_redact_patterns():
    text = (f"Authorization: Bearer {SECRETS[0]} url https://api.telegram.org/bot{SECRETS[1]}/sendMessage "
            f"jwt {SECRETS[2]} db postgresql://me:{SECRETS[3]}@host/db ws /ws?token={SECRETS[0]}")
    out = redact(text)
    for secret in SECRETS:
        assert secret not in out
    assert "sendMessage" in out and "postgresql://me:" in out


def test_filter_redacts_args_and_tracebacks(caplog):
    logger = logging.getLogger("replydesk.test")
    logger.addFilter(RedactingFilter())
    try:
        with caplog.at_level(logging.INFO, logger="replydesk.test"):
            logger.info("calling %s", f"https://api.telegram.org/bot{SECRETS[1]}/getMe")
            try:
                raise RuntimeError(f"failed with key {SECRETS[0]}")
            except RuntimeError:
                logger.exception("boom")
    finally:
        logger.filters.clear()
    rendered = caplog.text
    assert SECRETS[0] not in rendered and SECRETS[1] not in rendered
    assert "getMe" in rendered and "boom" in rendered
