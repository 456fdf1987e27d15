"""The taxonomy scorer (``config/taxonomy.yml``): the phrase rules, actor/action rules and dampers that the learned
classifier reads as features. Golden cases from the labelling guide hold for the rules alone, so a taxonomy edit
that breaks one is caught here, before it reaches the model's features."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from crypto_news.classify import RuleScorer, split_sentences

TAXONOMY = Path(__file__).resolve().parents[1] / "config" / "taxonomy.yml"
RULES = RuleScorer()


def labels_of(title, summary=None, text=None):
    return RULES.classify(title, summary, text).labels


# --- golden cases (one per example of the guide, in our own words) ---------------------------------------


@pytest.mark.parametrize(
    "title, summary, expected",
    [
        (
            "Lawmaker urges nationwide blockchain infrastructure for public services as Beijing keeps bitcoin mining ban",
            ("The proposal would put government services and supply chains on a state blockchain, while authorities "
            "continue the crackdown on crypto trading."),
            ["adoption", "mining", "regulation"],
        ),
        (
            "SEC sues trading platform for running an unregistered securities exchange",
            "The regulator says the company offered crypto asset securities without registering.",
            ["regulation"],
        ),
        ("El Salvador buys 100 more BTC for its national reserve", "", ["adoption"]),
        ("Bitcoin hashrate reaches new record as mining difficulty rises 5%", "", ["mining"]),
        ("Kazakhstan raises electricity tax on crypto miners", "", ["mining", "regulation"]),
        ("Bitcoin price falls below $60,000 as traders de-risk", "", []),
        ("DeFi lending protocol loses $20 million in exploit", "Attackers drained a liquidity pool.", []),
        ("Ethereum validators earn record staking rewards", "", []),
    ],
)
def test_guide_examples(title, summary, expected):
    assert labels_of(title, summary) == expected


@pytest.mark.parametrize(
    "title, summary",
    [
        ("DEX launches liquidity mining programme to attract deposits", "Yield farming rewards paid in tokens."),
        ("Startup applies data mining to on-chain wallets", "The analytics firm sells token flow dashboards."),
        ("Gold mining stocks rally as bullion hits record", "Gold miners outperformed crypto tokens this week."),
        ("Solana validators vote on staking reward change", "Stakers will receive a larger share of fees."),
    ],
)
def test_mining_traps_are_not_mining(title, summary):
    assert "mining" not in labels_of(title, summary)


def test_miners_pivoting_to_ai_are_mining():
    assert "mining" in labels_of(
        "Bitcoin miner signs AI hosting deal for its data centres",
        "The miner will convert part of its hashrate capacity to AI computing.",
    )


def test_etf_decision_is_regulation_and_etf_flows_adoption():
    assert "regulation" in labels_of("SEC approves spot ether ETFs after months of review")
    assert labels_of("Spot bitcoin ETFs record $500 million of inflows in a day") == ["adoption"]


def test_mining_ban_is_regulation_and_mining():
    assert labels_of("Government bans crypto mining to protect the power grid") == ["mining", "regulation"]


def test_stablecoin_backing_is_not_a_holders_reserve():
    assert "adoption" not in labels_of("Rating agency drafts stablecoin scores based on reserve quality")
    assert "adoption" in labels_of("Province buys bitcoin for its strategic reserve")


def test_paying_with_crypto_is_adoption():
    assert labels_of("Where travellers can now pay with bitcoin on holiday") == ["adoption"]


def test_big_investors_buying_is_adoption():
    assert labels_of("Major investors are buying ether, fund survey shows") == ["adoption"]


def test_growth_in_use_is_adoption_but_not_for_a_price_move():
    assert "adoption" in labels_of(
        "Stablecoins gain traction with freelancers abroad",
        "Contractors in several countries now ask for dollar tokens.",
    )
    assert "adoption" not in labels_of("Memecoin gains traction as price doubles")


def test_law_enforcement_counts_once():
    # "law enforcement" names the authorities once; it is not a law plus an enforcement action
    assert "regulation" not in labels_of(
        "Crypto exchange reviews its account freeze policy after a hack",
        "Critics ask how quickly platforms respond to requests from law enforcement.",
    )


def test_etf_headline_is_not_a_crypto_firms_own_news():
    assert "adoption" in labels_of(
        "Crypto exchanges brace for competition from new ether ETFs",
        "Fund issuers say the ETFs will charge lower fees.",
    )


def test_trust_bank_approval_is_regulation_not_adoption():
    assert labels_of(
        "Stablecoin issuers and a fund giant win national trust bank approvals",
        "The banking supervisor granted conditional approvals to several crypto companies.",
    ) == ["regulation"]


def test_corporate_bitcoin_impairment_is_adoption():
    assert "adoption" in labels_of("Payments company books $30 million bitcoin impairment on its treasury holdings")


def test_crypto_founder_sentencing_is_regulation():
    assert "regulation" in labels_of(
        "Victim statements weigh on Terraform co-founder's fate",
        "The judge cited the letters before sentencing him to 12 years in prison.",
    )


def test_not_a_security_is_still_regulation():
    assert "regulation" in labels_of("Court rules that the token is not a security")


# --- structure: actor/action rules, dampers, lead of the summary ---------------------------------------


def test_split_sentences():
    assert split_sentences("One. Two! Three? Four.", 2) == ("One. Two!", "Three? Four.")
    assert split_sentences("No full stop here", 3) == ("No full stop here", "")
    assert split_sentences("Kept whole. Always.", 0) == ("Kept whole. Always.", "")
    assert split_sentences("U.S. bank adds bitcoin. Second one.", 1) == ("U.S. bank adds bitcoin.", "Second one.")


@pytest.mark.parametrize(
    "title, rule_evidence",
    [
        ("Regional bank adds bitcoin custody for wealth clients", 'title: "bank" + "'),
        ("City council votes to accept bitcoin for local taxes", 'title: "city" + "accept"'),
        ("Asset manager files for a spot solana ETF", 'title: "etf" + "files"'),
    ],
)
def test_outside_actor_taking_up_crypto_is_adoption_and_evidence_names_both(title, rule_evidence):
    result = RULES.classify(title, None, None)
    assert "adoption" in result.labels
    assert any(line.startswith(rule_evidence) for line in result.evidence["adoption"]), result.evidence


def test_authority_action_evidence_names_actor_and_action():
    result = RULES.classify("Regulator fines crypto broker over unregistered offering", None, None)
    assert result.labels == ["regulation"]
    assert 'title: "regulator" + "fines"' in result.evidence["regulation"]


@pytest.mark.parametrize(
    "title, summary",
    [
        ("Crypto exchange launches tokenized stock trading for its users", "The exchange adds a new product to its app."),
        ("Stablecoin issuer integrates compliance tool into its token", "The firm says the change protects users."),
        ("DeFi protocol partners with wallet start-up on token rewards", ""),
    ],
)
def test_crypto_firm_own_product_news_is_not_adoption(title, summary):
    assert "adoption" not in labels_of(title, summary)


def test_crypto_firm_with_outside_institution_is_adoption():
    assert "adoption" in labels_of("Crypto exchange partners with national bank to offer bitcoin custody to clients")


def test_licence_decision_is_regulation_not_adoption():
    assert labels_of("Regulator grants banking charter to stablecoin issuer and custody firm") == ["regulation"]


def test_price_headline_with_halving_is_not_mining():
    assert "mining" not in labels_of("Bitcoin price steady after halving", "Traders shrugged off the event.")
    assert "mining" in labels_of("Miners sell bitcoin as revenue falls after halving")


def test_related_headlines_after_the_lead_weigh_little():
    lead = "The exchange added support for a new token on Tuesday. Trading opens next week. Deposits are live now."
    related = "More on this: Police arrest scammers in Spain."
    assert labels_of("Exchange adds support for new token", lead + " " + related) == []
    assert labels_of("Exchange adds support for new token", related + " " + lead) == ["regulation"]


def test_feed_boilerplate_does_not_repeat_the_title():
    title = "Bitcoin price steady after halving event"
    summary = f"Traders were calm this week. Continue reading {title} The post {title} appeared first on Example."
    assert RULES.classify(title, summary, None).scores == RULES.classify(title, "Traders were calm this week.", None).scores


def test_only_the_lede_of_the_body_counts_in_the_rule_score():
    filler = " ".join(["Markets were quiet and volumes were thin."] * RULES.body_max_words)
    tail = " ".join(["Miners added hashrate as difficulty rose and ASIC sales grew."] * 5)
    assert RULES.classify("Company update", None, filler + " " + tail).labels == []
    assert RULES.classify("Company update", None, tail + " " + filler).labels == ["mining"]


def test_raw_scores_are_the_features_and_can_leave_the_body_out():
    raw, contributions, entities, _ = RULES.raw("Regulator fines exchange", "Miners keep mining.", None)
    assert raw["regulation"] > 0 and raw["mining"] > 0 and raw["adoption"] <= 0
    with_body, _, entities_body, _ = RULES.raw("Regulator fines exchange", "Miners keep mining.",
                                               "The firm is based in Kazakhstan.", score_text=False)
    assert with_body == raw  # the body is read for entities only
    assert "KZ" in {e.id for e in entities_body} and "KZ" not in {e.id for e in entities}


def test_version_changes_with_taxonomy(tmp_path):
    copy = tmp_path / "taxonomy.yml"
    shutil.copy(TAXONOMY, copy)
    original = RuleScorer(copy).version
    assert original == RULES.version and original.startswith("1.")
    copy.write_text(copy.read_text(encoding="utf-8").replace("hashrate*: 3", "hashrate*: 2.5"), encoding="utf-8")
    assert RuleScorer(copy).version != original
    # comments and layout do not change the content, so they do not change the version
    shutil.copy(TAXONOMY, copy)
    copy.write_text("# reviewed again\n" + copy.read_text(encoding="utf-8"), encoding="utf-8")
    assert RuleScorer(copy).version == original
