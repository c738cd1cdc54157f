"""Flood-limit pacing with a hand-moved clock: bursts, then the steady rate, per chat and overall."""

from __future__ import annotations

import pytest

from channels.telegram_pacing import Pacer


class ManualTime:
    def __init__(self) -> None:
        self.now = 1000.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(round(seconds, 6))
        self.now += seconds


@pytest.fixture
def clock() -> ManualTime:
    return ManualTime()


def test_a_short_burst_per_chat_then_one_per_second(clock):
    pacer = Pacer(now=clock)
    assert [round(pacer.reserve(7), 6) for _ in range(5)] == [0, 0, 0, 1.0, 2.0]


def test_chats_are_paced_independently(clock):
    pacer = Pacer(now=clock)
    for _ in range(3):
        pacer.reserve(1)
    assert pacer.reserve(2) == 0
    assert pacer.reserve(1) == pytest.approx(1.0)


def test_groups_get_twenty_per_minute(clock):
    pacer = Pacer(now=clock)
    delays = [pacer.reserve(-100123) for _ in range(4)]
    assert delays[:3] == [0, 0, 0] and delays[3] == pytest.approx(3.0)


def test_thirty_per_second_overall(clock):
    pacer = Pacer(now=clock)
    delays = [pacer.reserve(chat) for chat in range(1, 32)]
    assert delays[:30] == [0] * 30
    assert delays[30] == pytest.approx(1 / 30)


def test_the_burst_refills_with_time(clock):
    pacer = Pacer(now=clock)
    for _ in range(3):
        pacer.reserve(7)
    clock.now += 10
    assert [pacer.reserve(7) for _ in range(3)] == [0, 0, 0]


async def test_wait_sleeps_only_when_needed(clock):
    pacer = Pacer(now=clock, sleep=clock.sleep)
    for _ in range(5):
        await pacer.wait(7)
    assert clock.slept == [1.0, 1.0]
