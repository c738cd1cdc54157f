"""Style learning and rule-based rewriting: brain/style.py is pure, so every test is a plain function call."""

from __future__ import annotations

import json

import pytest

from brain.style import (
    StyleProfile, apply_style, extract_emojis, formality_score, learn_style, merge_profiles, style_instructions,
)

CASUAL = [
    "hey! omw, be there in 10 😂", "haha no way, that's amazing 😂😂", "can't make it tonight sorry!! 🙌",
    "hey mate, you still up for footy sat? 🔥", "lol yeah i'm gonna grab pizza first 😂", "sounds good!! see you there 🙌",
    "omg that's hilarious 😂 talk soon", "yeah yeah i'll bring the snacks 🔥", "hey, did u see the match?? 😂",
    "nah i'm good thanks mate 🙌", "wait what?! no way 😂", "gonna be a bit late, traffic is mad 😅",
    "hey! happy bday!!! 🎉🎉", "haha classic 😂", "don't worry about it, all good 👍", "i'm so down for that 🔥🔥",
    "yep i'll call u later, talk soon", "that's sick!! 🙌", "hiya! what's the plan for tonight?", "lol i can't even 😂",
    "cheers mate, you're a legend 🙌", "we're heading out now, wanna come? 🔥", "hey just checking u got home ok",
    "idk tbh, let's see how it goes 😂", "brb grabbing coffee", "yesss finally!! 🙌🙌", "it's fine haha, talk soon",
    "hiya, u around later? 😂", "omg yes!! 😂🔥", "k see ya 🙌",
]
FORMAL = [
    "Good morning, thank you for your message. I will review the proposal today.",
    "Dear Sarah, please find the updated schedule below. Kind regards",
    "Thank you for the update. I am available on Thursday afternoon.",
    "I would appreciate it if you could send the invoice by Friday.",
    "Good morning, the meeting has been moved to 10:30. Kind regards",
    "Please let me know whether the revised timeline is acceptable.",
    "I do not have the figures yet, however I will share them tomorrow.",
    "Thank you for your patience. The delivery is scheduled for Monday.",
    "Could you please confirm the number of attendees?",
    "I am writing to follow up on our conversation regarding the contract.",
    "Dear Mr. Patel, thank you for the introduction. Best regards",
    "The report is attached. Please do not hesitate to contact me with any questions.",
    "Certainly, I will arrange the call for next week.",
    "Good afternoon, I have forwarded your request to the finance team.",
    "Thank you. I will confirm the details as soon as possible.",
    "I apologize for the delay in responding to your email.",
    "Please find the signed agreement attached. Kind regards",
    "We are pleased to confirm your booking for two guests.",
    "I would be grateful for your feedback on the draft.",
    "Good morning, could we reschedule our meeting to Wednesday?",
    "The payment of 450 euros has been received. Thank you.",
    "I cannot attend the workshop, but a colleague will represent our team.",
    "Thank you for your kind words. It was a pleasure working with you.",
    "Please note that the office will be closed on Friday.",
    "I will review the documents and respond by the end of the day.",
    "Dear team, the quarterly results are now available. Kind regards",
    "Could you kindly share the agenda before the meeting?",
    "I have received your message and will reply shortly.",
    "Thank you for your assistance with this matter.",
    "Good evening, I am confirming our appointment for tomorrow at 9:00.",
]
FORMAL_DRAFT = "I am doing well, thank you for asking. I would be happy to assist you."
CASUAL_DRAFT = "hey!! yeah gonna be there lol 😂"


@pytest.fixture(scope="module")
def casual() -> StyleProfile:
    return learn_style(CASUAL)


@pytest.fixture(scope="module")
def formal() -> StyleProfile:
    return learn_style(FORMAL)


def test_learns_a_casual_emoji_rich_profile(casual: StyleProfile) -> None:
    assert casual.samples_count == 30 and casual.language == "en"
    assert casual.formality < 0.4
    assert casual.emoji_usage and casual.emoji_rate > 0.8
    assert casual.signature_emojis[0] == "😂" and set(casual.signature_emojis[:3]) == {"😂", "🙌", "🔥"}
    assert casual.punctuation_style == "expressive"
    assert casual.lowercase_start_rate > 0.9 and casual.contractions_rate > 0.8
    assert casual.greetings[:2] == ["hey", "hiya"] and casual.sign_offs == ["talk soon"]
    assert casual.pet_names == ["mate"]
    assert casual.avg_length < 40


def test_casual_profile_turns_a_formal_draft_casual(casual: StyleProfile) -> None:
    styled, applied = apply_style(casual, FORMAL_DRAFT)
    assert formality_score(FORMAL_DRAFT) - formality_score(styled) >= 0.4
    assert "i'm" in styled.lower() and "thanks" in styled and "happy to help" in styled
    assert extract_emojis(styled)[0] == "😂"
    assert {"added_contractions", "casualized_vocabulary", "added_emoji", "adjusted_punctuation"} <= set(applied)


def test_learns_a_formal_profile(formal: StyleProfile) -> None:
    assert formal.formality > 0.6
    assert not formal.emoji_usage and formal.signature_emojis == []
    assert formal.punctuation_style == "standard" and formal.exclamation_rate == 0
    assert formal.lowercase_start_rate == 0 and formal.contractions_rate < 0.2
    assert formal.greetings[:2] == ["good morning", "dear"] and formal.sign_offs == ["kind regards"]
    assert formal.avg_length > 50


def test_formal_profile_turns_a_casual_draft_formal(formal: StyleProfile) -> None:
    styled, applied = apply_style(formal, CASUAL_DRAFT)
    assert formality_score(styled) - formality_score(CASUAL_DRAFT) >= 0.4
    assert not extract_emojis(styled) and "!!" not in styled
    lowered = styled.lower()
    assert "lol" not in lowered and "gonna" not in lowered and "yeah" not in lowered
    assert "going to" in lowered and "yes" in lowered and styled[0].isupper() and styled.endswith(".")
    assert {"formalized_vocabulary", "removed_emoji", "adjusted_punctuation", "capitalized_start"} <= set(applied)


def test_formal_profile_expands_contractions_and_slang(formal: StyleProfile) -> None:
    styled, applied = apply_style(formal, "i'm sure it's been fine, idk tbh")
    assert styled == "I am sure it has been fine, I do not know to be honest."
    assert "removed_contractions" in applied


@pytest.mark.parametrize("profile_name", ["casual", "formal"])
def test_numbers_prices_dates_urls_emails_and_names_are_untouched(
    profile_name: str, request: pytest.FixtureRequest
) -> None:
    profile = request.getfixturevalue(profile_name)
    text = ("Hello Sarah, thank you! It is $1,299.99 (or 12,50 €) on 2024-05-01 at 5pm, order #4471 for 3 people. "
            "See https://example.com/Thank-You?ref=lol or email jane.doe@example.com, I am sure Will can help.")
    styled, _ = apply_style(profile, text)
    for kept in ("$1,299.99", "12,50 €", "2024-05-01", "5pm", "#4471", " 3 ", "Sarah", "Will",
                 "https://example.com/Thank-You?ref=lol", "jane.doe@example.com"):
        assert kept in styled, kept


def test_contractions_are_not_forced_at_the_end_of_a_sentence(casual: StyleProfile) -> None:
    styled, _ = apply_style(casual, "Yes, I am.")
    assert "I am" in styled


def test_rewriting_is_deterministic(casual: StyleProfile, formal: StyleProfile) -> None:
    for profile in (casual, formal):
        assert apply_style(profile, FORMAL_DRAFT) == apply_style(profile, FORMAL_DRAFT)
        assert apply_style(profile, CASUAL_DRAFT) == apply_style(profile, CASUAL_DRAFT)


def test_greetings_and_sign_offs_are_swapped_or_added_on_request(casual: StyleProfile, formal: StyleProfile) -> None:
    assert apply_style(casual, "Hello, the file is ready. Kind regards")[0].startswith("hey")
    assert apply_style(casual, "Hello, the file is ready. Kind regards")[0].endswith("talk soon 😂")
    styled, applied = apply_style(formal, "the file is ready", greet=True, sign_off=True)
    assert styled == "Good morning, the file is ready.\n\nKind regards"
    assert {"added_greeting", "added_sign_off"} <= set(applied)


def test_sign_offs_swap_only_across_registers_and_languages(casual: StyleProfile, formal: StyleProfile) -> None:
    assert apply_style(casual, "k see ya")[0] == "k see ya 😂"
    assert apply_style(formal, "it's fine, talk soon")[0] == "It is fine.\n\nKind regards"
    styled, _ = apply_style(formal, "Bonjour Pierre ! On se voit à 20h ? Bisous")
    assert "Bonjour" in styled and "Pierre" in styled and styled.endswith("Bisous")


def test_formal_rewrite_drops_pet_names_and_never_punctuates_into_a_link(formal: StyleProfile) -> None:
    assert apply_style(formal, "thanks mate, see you at 5")[0] == "Thank you, see you at 5."
    assert apply_style(formal, "yeah see https://x.io/a")[0] == "Yes see https://x.io/a"


def test_a_draft_is_never_rewritten_to_nothing(formal: StyleProfile) -> None:
    assert apply_style(formal, "😂")[0] == "😂"
    assert apply_style(formal, "lol 😂😂")[0].strip()


def test_a_long_draft_is_shortened_for_a_terse_owner(casual: StyleProfile) -> None:
    draft = "I just wanted to let you know that the meeting is at 5pm. Bring the notes in order to prepare."
    styled, applied = apply_style(casual, draft)
    assert "shortened" in applied and "just wanted" not in styled and "5pm" in styled and "to prepare" in styled


def test_formality_score_orders_registers() -> None:
    assert formality_score("Dear Ms. Lee, thank you for your assistance. Kind regards") > 0.7
    assert formality_score("ok cool see u 😂😂") < 0.25
    assert 0.3 < formality_score("See you at noon") < 0.7


def test_emoji_sequences_count_as_one() -> None:
    assert extract_emojis("👍🏽 👨‍👩‍👧 🇧🇷 ❤️ ✨ :) price 10") == ["👍🏽", "👨‍👩‍👧", "🇧🇷", "❤️", "✨"]


def test_merge_is_weighted_by_samples_count(casual: StyleProfile, formal: StyleProfile) -> None:
    old = StyleProfile(formality=0.2, emoji_usage=True, avg_length=20, greetings=["hey"], samples_count=10)
    new = StyleProfile(formality=0.8, emoji_usage=False, avg_length=60, greetings=["hello", "hey"], samples_count=30)
    merged = merge_profiles(old, new)
    assert merged.formality == pytest.approx(0.65) and merged.avg_length == 50
    assert merged.emoji_usage is False and merged.samples_count == 40
    assert merged.greetings == ["hello", "hey"]
    assert merge_profiles(StyleProfile(), casual) == casual and merge_profiles(formal, StyleProfile()) == formal


def test_to_dict_from_dict_round_trip(casual: StyleProfile) -> None:
    data = json.loads(json.dumps(casual.to_dict()))
    assert StyleProfile.from_dict(data) == casual
    assert StyleProfile.from_dict({"formality": 0.9, "extra": 1}).formality == 0.9


def test_no_samples_gives_a_neutral_profile() -> None:
    profile = learn_style(["", "   "])
    assert profile == StyleProfile() and style_instructions(profile) == ""
    assert apply_style(profile, "Hello there.") == ("Hello there.", [])


def test_style_instructions_describe_the_profile(casual: StyleProfile, formal: StyleProfile) -> None:
    text = style_instructions(casual)
    assert text.startswith("Write casually") and "lowercase is fine" in text
    assert "😂🙌🔥" in text and "greet with 'hey'" in text and "sign off with 'talk soon'" in text
    assert f"about {casual.avg_length} characters" in text
    assert "formally" in style_instructions(formal) and "no emoji" in style_instructions(formal)


@pytest.mark.parametrize(("language", "messages", "greetings", "sign_off"), [
    ("es", ["hola! qué tal estás? besos", "hola, estoy en casa", "buenas! todo bien por aquí, besos",
            "hola, ya llegué 😂", "buenas, muy bien gracias"], ["hola", "buenas"], "besos"),
    ("pt", ["oi! tudo bem? beijos", "bom dia, estou chegando", "oi, não vou poder hoje, beijos",
            "oi, muito obrigado!", "bom dia! isso é ótimo"], ["oi", "bom dia"], "beijos"),
    ("de", ["hallo! ich bin gleich da, lg", "moin, alles klar bei dir?", "hallo, das ist super, bis bald",
            "moin! ich komme auch mit", "hallo zusammen, bin dabei. lg"], ["hallo", "moin"], "lg"),
    ("fr", ["salut! je suis en route, bisous", "coucou, ça va?", "salut, c'est parfait pour moi. bisous",
            "coucou! je suis là", "bonjour, merci pour tout, à bientôt"], ["salut", "coucou"], "bisous"),
])
def test_other_languages_greetings_and_sign_offs(language: str, messages: list[str], greetings: list[str],
                                                 sign_off: str) -> None:
    profile = learn_style(messages)
    assert profile.language == language
    assert profile.greetings[:2] == greetings and profile.sign_offs[0] == sign_off
    assert f"in {['Spanish', 'Portuguese', 'German', 'French'][['es', 'pt', 'de', 'fr'].index(language)]}" in (
        style_instructions(profile))


def test_formal_spanish_profile_drops_laughs_emoji_and_shorthand() -> None:
    profile = StyleProfile(formality=0.8, language="es", samples_count=5)
    styled, _ = apply_style(profile, "hola!! jaja q tal todo por allá? 😂")
    assert styled == "Hola! Que tal todo por allá?"


def test_pet_names_seen_in_address_position_only() -> None:
    profile = learn_style(["thanks love!", "hey babe, on my way", "gracias cariño", "I love this song", "dear me"])
    assert profile.pet_names == ["love", "babe", "cariño"]
