"""Entity tagger: ids, mention counts, implied jurisdictions and the ticker traps."""

from __future__ import annotations

import pytest
from crypto_news.classify.entities import Entity, EntityTagger, extract_entities


def ids(title, summary=None, text=None, kind=None):
    return {e.id for e in extract_entities(title, summary, text) if kind is None or e.kind == kind}


def mentions(entities, ident):
    return next(e.mentions for e in entities if e.id == ident)


def test_jurisdictions_regulators_assets():
    found = extract_entities(
        "SEC and CFTC weigh bitcoin and ether ETFs as China keeps mining ban",
        "Beijing's central bank, the PBoC, repeated that crypto trading is illegal; Texas miners expand.",
        None,
    )
    by_kind = {(e.kind, e.id) for e in found}
    assert {("regulator", "US-SEC"), ("regulator", "US-CFTC"), ("regulator", "CN-PBOC")} <= by_kind
    assert {("jurisdiction", "CN"), ("jurisdiction", "US"), ("jurisdiction", "US-TX")} <= by_kind
    assert {("asset", "BTC"), ("asset", "ETH")} <= by_kind
    assert all(isinstance(e, Entity) and e.mentions >= 1 for e in found)


def test_mentions_are_counted_across_fields():
    found = extract_entities("Bitcoin rises", "Bitcoin and BTC options", "More bitcoin news. $BTC again.")
    assert mentions(found, "BTC") == 5


def test_regulator_implies_jurisdiction():
    found = extract_entities("FCA warns on crypto promotions", None, None)
    assert ("jurisdiction", "GB") in {(e.kind, e.id) for e in found}
    assert "EU" in ids("ESMA publishes guidance")


def test_demonyms_and_states():
    assert "CN" in ids("Chinese police arrest crypto scammers")
    assert "SV" in ids("Salvadoran lawmakers debate bitcoin law")
    assert "KZ" in ids("Kazakh miners face new power rules")
    assert "US-NY" in ids("New York regulator approves stablecoin")
    assert "EU" in ids("EU lawmakers agree MiCA changes")
    assert "KP" in ids("North Korean hackers steal ether") and "KR" not in ids("North Korean hackers steal ether")


@pytest.mark.parametrize(
    "text",
    [
        "Click the link below to read the near term outlook.",
        "One ton of steel, a dot on the map, Ada Lovelace and a sol of light.",
        "The op ed was near the top of the page; gas prices fell.",
        "He will link the two projects and stay near the sea.",
    ],
)
def test_ordinary_words_are_not_tickers(text):
    assert ids(text, kind="asset") == set()


def test_ambiguous_tickers_need_context_or_marking():
    # upper-case ticker with crypto context
    assert {"LINK", "DOT"} <= ids("LINK and DOT rally as altcoins recover")
    # $TICKER or (TICKER) is enough on its own
    assert "NEAR" in ids("Traders pile into $NEAR")
    assert "OP" in ids("Optimism (OP) unlock next week")
    # shouted headline without context or marking
    assert ids("MARKETS NEAR RECORD AS STOCKS LINK UP", kind="asset") == set()
    # no crypto context at all
    assert ids("The TON of paperwork at the DOT office", kind="asset") == set()


def test_full_names_are_enough():
    assert {"LINK", "SOL", "DOT", "ADA", "TON", "ARB"} <= ids(
        "Chainlink, Solana, Polkadot, Cardano, Toncoin and Arbitrum lead the week"
    )


def test_terra_is_an_asset():
    assert "LUNA" in ids("Terra founder faces court", "Terraform Labs collapsed in 2022.")
    assert "LUNA" not in ids("terra firma and terraces")


def test_bitcoin_cash_is_not_bitcoin():
    assert ids("Bitcoin Cash jumps 10%", kind="asset") == {"BCH"}


def test_newspaper_names_are_not_places():
    assert "US-NY" not in ids("Bitcoin surges, the New York Times reports")


def test_asic_needs_australia():
    assert "AU-ASIC" not in ids("Miners buy new ASIC machines")
    assert "AU-ASIC" in ids("Australian regulator ASIC sues crypto exchange")


def test_empty_and_deterministic(tmp_path):
    assert extract_entities(None, None, None) == []
    a = extract_entities("SEC sues Binance", "BNB falls", "Binance said it would fight.")
    b = EntityTagger().tag  # a fresh tagger gives the same result
    from crypto_news.classify.entities import analyse

    assert b([analyse(x) for x in ("SEC sues Binance", "BNB falls", "Binance said it would fight.")]) == a
    assert [e.kind for e in a] == sorted((e.kind for e in a), key=["jurisdiction", "regulator", "asset"].index)


def test_every_entity_id_is_text_and_countries_use_iso_codes():
    import re

    import yaml

    from crypto_news.classify.entities import DEFAULT_ENTITIES_FILE

    data = yaml.safe_load(DEFAULT_ENTITIES_FILE.read_text(encoding="utf-8"))
    for section in ("jurisdictions", "regulators", "assets"):
        for item in data[section]:
            assert isinstance(item["id"], str), item
    codes = [i["id"] for i in data["jurisdictions"]]
    assert all(re.fullmatch(r"[A-Z]{2}(-[A-Z0-9]{1,3})?|EU", c) for c in codes), codes
    assert "NO" in codes  # Norway, the classic YAML boolean trap


def test_a_bare_yaml_boolean_id_is_refused(tmp_path):
    import pytest

    from crypto_news.classify.entities import DEFAULT_ENTITIES_FILE, EntityTagger

    text = DEFAULT_ENTITIES_FILE.read_text(encoding="utf-8").replace('{id: "NO",', "{id: NO,")
    (tmp_path / "entities.yml").write_text(text, encoding="utf-8")
    with pytest.raises(ValueError, match="quote them"):
        EntityTagger(tmp_path / "entities.yml")
