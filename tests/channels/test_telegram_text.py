"""UTF-16 arithmetic and splitting long replies at Telegram's 4096-unit limit."""

from __future__ import annotations

import pytest

from channels.telegram_text import MAX_MESSAGE, prefix_within, split_text, truncate, utf16_len, utf16_slice


def test_utf16_counts_astral_characters_twice():
    assert utf16_len("abc") == 3
    assert utf16_len("👋") == 2
    assert utf16_len("🇺🇸") == 4  # two regional indicators
    assert utf16_len("שלום") == 4


def test_utf16_slice_follows_telegram_offsets():
    text = "👋 Hi @bob"  # "@" is code point 5 but UTF-16 unit 6
    assert utf16_slice(text, 6, 4) == "@bob"
    assert text[6:10] != "@bob"


def test_prefix_within_never_splits_a_surrogate_pair():
    assert prefix_within("a👋b", 2) == "a"
    assert prefix_within("a👋b", 3) == "a👋"
    assert prefix_within("short", 100) == "short"


def test_truncate_marks_what_was_cut():
    assert truncate("hello", 10) == "hello"
    assert truncate("hello world", 6) == "hello…"
    assert utf16_len(truncate("👋" * 100, 11)) <= 11


def test_short_and_empty_texts():
    assert split_text("  hi  ") == ["hi"]
    assert split_text("   ") == []


def test_splits_on_paragraphs_first():
    first, second = "A" * 3000, "B" * 3000
    assert split_text(f"{first}\n\n{second}") == [first, second]


def test_splits_on_sentences_when_no_paragraph_fits():
    sentence = "This is a sentence of moderate length. "
    text = sentence * 130  # about 5070 characters, one paragraph
    parts = split_text(text)
    assert len(parts) == 2
    assert all(utf16_len(p) <= MAX_MESSAGE for p in parts)
    assert parts[0].endswith(".") and parts[1].startswith("This")
    assert " ".join(parts) == text.strip()


def test_splits_on_words_then_hard():
    words = "word " * 1200
    parts = split_text(words)
    assert [p.split()[-1] for p in parts] == ["word", "word"]
    hard = split_text("x" * 5000)
    assert [len(p) for p in hard] == [4096, 904]


def test_limit_is_counted_in_utf16_units():
    text = "😀" * 3000  # 6000 units
    parts = split_text(text)
    assert len(parts) == 2 and "".join(parts) == text
    assert all(utf16_len(p) <= MAX_MESSAGE for p in parts)


@pytest.mark.parametrize("length", [4096, 4097, 8192, 12_500])
def test_every_part_fits_and_nothing_is_lost(length):
    text = ("Line one. Line two! Question? " * 500)[:length]
    parts = split_text(text)
    assert all(0 < utf16_len(p) <= MAX_MESSAGE for p in parts)
    assert "".join(parts).replace(" ", "") == text.strip().replace(" ", "")
