"""Money spotting in single messages: every supported format, and the numbers that are not money."""

from __future__ import annotations

import pytest

from brain.prices import Price, extract_prices

# (message, amount, currency, raw_text)
FORMATS = [
    ("My rate is $200", 200.0, "USD", "$200"),
    ("it's 200 bucks", 200.0, "USD", "200 bucks"),
    ("€150 for an hour", 150.0, "EUR", "€150"),
    ("150€ for a 5 second loop", 150.0, "EUR", "150€"),
    ("That would be 150 EUR", 150.0, "EUR", "150 EUR"),
    ("would you take 1.5k?", 1500.0, None, "1.5k"),
    ("The package is $1.5k", 1500.0, "USD", "$1.5k"),
    ("Rund 1,5k € inkl. Schnitt", 1500.0, "EUR", "1,5k €"),
    ("final quote: 1,200.50 with props", 1200.5, None, "1,200.50"),
    ("final quote: $1,200.50 with props", 1200.5, "USD", "$1,200.50"),
    ("Angebot: 1.200,50 € inkl. MwSt.", 1200.5, "EUR", "1.200,50 €"),
    ("La couverture est à 2 500 €.", 2500.0, "EUR", "2 500 €"),
    ("Oui, 9,90 € de frais de port.", 9.9, "EUR", "9,90 €"),
    ("Fica R$ 300 a aula", 300.0, "BRL", "R$ 300"),
    ("R$ 1,5 mil, em até 3x", 1500.0, "BRL", "R$ 1,5 mil"),
    ("300 reais a aula", 300.0, "BRL", "300 reais"),
    ("Mini sessions are £80", 80.0, "GBP", "£80"),
    ("sound, 45 quid sent", 45.0, "GBP", "45 quid"),
    ("Eine Stunde kostet CHF 90", 90.0, "CHF", "CHF 90"),
    ("A$220 for a 60 second reel", 220.0, "AUD", "A$220"),
    ("90 $ CAD la séance", 90.0, "CAD", "90 $ CAD"),
    ("Atendo sim, US$ 120 por hora.", 120.0, "USD", "US$ 120"),
    ("Son $1,500 pesos la sesión", 1500.0, "MXN", "$1,500 pesos"),
    ("Son 250 USD con 4 sesiones", 250.0, "USD", "250 USD"),
    ("vale, 60 pavos me parece bien", 60.0, "EUR", "60 pavos"),
    ("It would be two hundred", 200.0, None, "two hundred"),
    ("It would be two hundred fifty dollars", 250.0, "USD", "two hundred fifty dollars"),
    ("two-fifty is totally fine", 250.0, None, "two-fifty"),
    ("Serían doscientos", 200.0, None, "doscientos"),
    ("sale por ciento cincuenta euros.", 150.0, "EUR", "ciento cincuenta euros"),
    ("Für das Logo nehme ich zweihundert Euro.", 200.0, "EUR", "zweihundert Euro"),
    ("Das macht dreihundertfünfzig", 350.0, None, "dreihundertfünfzig"),
    ("ce serait deux cents euros.", 200.0, "EUR", "deux cents euros"),
    ("Fica duzentos", 200.0, None, "duzentos"),
    ("fica duzentos e cinquenta reais", 250.0, "BRL", "duzentos e cinquenta reais"),
    ("mil doscientos euros en total", 1200.0, "EUR", "mil doscientos euros"),
    ("I charge 200/hr", 200.0, None, "200"),
    ("Yes, $65/hr.", 65.0, "USD", "$65"),
    ("is 65 an hour right?", 65.0, None, "65"),
    ("could u do 90", 90.0, None, "90"),
    ("ok 200 then?", 200.0, None, "200"),
    ("Raw files are +$50", 50.0, "USD", "$50"),
]

NOT_PRICES = [
    "see you at 3pm",
    "call at 10:30",
    "she starts school on 3 March",
    "the 14th works for me",
    "Der 14. Juni, Trauung um 13 Uhr",
    "C'est le samedi 21 à 20h.",
    "Es el sábado 10 a las 11.",
    "call me on +1 (555) 123-4567",
    "my number is 555-123-4567",
    "ruf an: 0171 2345678",
    "50% upfront",
    "a 20 % discount",
    "it takes 2 hours",
    "for 45 minutes",
    "I'll send 3 photos",
    "20 edited photos",
    "10 Einheiten",
    "in 2024 we moved",
    "he turns 21 friday",
    "delivered within 48h",
    "a 3-hour evening event",
    "open 24/7",
    "em até 3x",
    "¡Mil gracias!",
    "I have two kids",
    "Around 25 dishes with styling",
]


@pytest.mark.parametrize(("text", "amount", "currency", "raw"), FORMATS)
def test_each_format_is_read_with_its_currency_and_position(
        text: str, amount: float, currency: str | None, raw: str) -> None:
    prices = extract_prices(text)

    assert [(p.amount, p.currency, p.raw_text) for p in prices] == [(amount, currency, raw)]
    price = prices[0]
    assert text[price.position:price.position + len(price.raw_text)] == raw


@pytest.mark.parametrize("text", NOT_PRICES)
def test_times_dates_phones_percentages_durations_counts_and_years_are_not_prices(text: str) -> None:
    assert extract_prices(text) == []


def test_seed_example_shape() -> None:
    assert [p.to_dict() for p in extract_prices("My rate is $200")] == [
        {"amount": 200.0, "currency": "USD", "raw_text": "$200", "position": 11}]


def test_every_mention_in_order_with_repeats() -> None:
    text = "$52 for the sheet and $8 shipping, so $60 total. Yes, $60."

    assert [p.amount for p in extract_prices(text)] == [52.0, 8.0, 60.0, 60.0]


def test_a_symbol_belongs_to_the_number_it_touches() -> None:
    text = "Single $4, sheet of 6 $18, mega pack $35."

    assert [(p.amount, p.raw_text) for p in extract_prices(text)] == [(4.0, "$4"), (18.0, "$18"), (35.0, "$35")]


def test_bare_amounts_take_the_nearest_stated_currency_then_the_default() -> None:
    assert [p.currency for p in extract_prices("it's usually $120... 100?")] == ["USD", "USD"]
    assert [p.currency for p in extract_prices("could u do 90", default_currency="EUR")] == ["EUR"]
    assert [p.currency for p in extract_prices("could u do 90")] == [None]


def test_a_dollar_sign_follows_a_dollar_default_currency() -> None:
    assert extract_prices("$150 for the session", default_currency="CAD")[0].currency == "CAD"
    assert extract_prices("$150 for the session", default_currency="EUR")[0].currency == "USD"


def test_reference_amounts_and_offers_in_one_message() -> None:
    prices = extract_prices("Can you do it for 100 euros instead of £100?")

    assert [(p.amount, p.currency) for p in prices] == [(100.0, "EUR"), (100.0, "GBP")]


def test_price_is_a_frozen_value() -> None:
    price = Price(200.0, "USD", "$200", 11)

    with pytest.raises(AttributeError):
        price.amount = 1.0  # type: ignore[misc]
