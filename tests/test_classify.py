"""The learned classifier: figures on the untouched development set, the guide's examples, whole articles whose
second topic is told in the body, evidence, determinism, the model file and its reproducible training."""

from __future__ import annotations

import io
import json
import shutil
from pathlib import Path

import pytest
from guide_examples import GUIDE_EXAMPLES
from crypto_news.classify import (
    LABELS,
    Classification,
    Classifier,
    ModelError,
    classify_jsonl,
    evaluate,
    format_evaluation,
    get_classifier,
)
from crypto_news.classify import train as training
from crypto_news.classify.model import DEFAULT_MODEL_FILE

DEV = Path(__file__).resolve().parents[2] / "shared" / "labels" / "dev.jsonl"
TAXONOMY = Path(__file__).resolve().parents[1] / "config" / "taxonomy.yml"


def dev_items():
    if not DEV.exists():
        pytest.skip(f"labelled dev set not present: {DEV}")
    return [json.loads(line) for line in DEV.read_text(encoding="utf-8").splitlines() if line.strip()]


def labels_of(title, summary=None, text=None):
    return get_classifier().classify(title, summary, text).labels


# --- development set (never used for training, thresholds or settings) ------------------------------------


def test_dev_set_regression_floor():
    report = evaluate(dev_items())
    print(format_evaluation(report))
    assert report["items"] == 398
    assert report["macro_f1"] >= 0.82  # measured 0.845 (docs/LABELS.md); a floor against regressions
    for label in LABELS:
        assert report["labels"][label]["f1"] >= 0.75, label


def test_evaluation_report_shape():
    items = [
        {"title": "Bitcoin miners add hashrate as difficulty climbs", "summary": "", "labels": ["mining"]},
        {"title": "Bitcoin price slips below support", "summary": "", "labels": []},
        {"title": "Regulators fine crypto exchange over sanctions breaches", "summary": "", "labels": ["adoption"]},
    ]
    report = evaluate(items, rounds=50)
    assert report["labels"]["mining"] == {**report["labels"]["mining"], "tp": 1, "fp": 0, "fn": 0, "tn": 2}
    assert report["labels"]["adoption"]["fn"] == 1
    assert report["labels"]["regulation"]["fp"] == 1
    assert ("regulation", "wrongly given") == report["errors"][0][0][:2] or ("adoption", "missed") == \
        report["errors"][0][0][:2]
    lo, hi = report["intervals"]["macro"]
    assert 0.0 <= lo <= hi <= 1.0
    text = format_evaluation(report)
    assert "macro-F1" in text and "95% CI" in text and "largest kinds of error" in text


# --- the guide's examples, in our own words -----------------------------------------------------------------


@pytest.mark.parametrize("title, summary, expected", GUIDE_EXAMPLES)
def test_guide_examples(title, summary, expected):
    assert labels_of(title, summary) == expected


# --- whole articles -----------------------------------------------------------------------------------------

CHINA_ARTICLE = """\
A member of China's national parliament has called for faster construction of blockchain infrastructure to
support government services, arguing that shared ledgers could make public administration cheaper and more
transparent. In a proposal submitted ahead of the annual legislative session, the deputy said ministries and
provincial governments should move records such as business licences, land registries and social insurance
files onto a common blockchain platform operated by state-owned enterprises.

The proposal also covers supply chains. Manufacturers and logistics companies would be able to record the
origin of goods, customs documents and payments on the same network, which the deputy said would cut fraud and
speed up trade finance for small exporters. Several pilot projects in coastal provinces already use blockchain
systems for invoices and cross-border trade, and the plan would extend them nationwide.

The push for blockchain technology does not extend to cryptocurrencies. Beijing has kept in place its ban on
bitcoin mining, which forced most miners to relocate their machines to other countries in 2021, when the
country's share of global hashrate fell to almost zero. Local authorities have continued to inspect data
centres and power users for hidden mining operations, and electricity companies have been told to report
unusual consumption.

Regulators have also stepped up their crackdown on crypto trading. The central bank said this year that
services related to virtual currencies remain illegal and that offshore exchanges serving mainland users would
be pursued. Police in several cities have arrested people accused of running over-the-counter trading desks.

Analysts say the two policies are consistent: the government wants the efficiency of distributed ledgers for
its own services and for industry, while keeping control over money and energy use. Industry groups in Hong
Kong, where licensed crypto exchanges operate under a separate regime, said they would watch whether the
mainland eases its stance, but few expect the mining ban or the trading ban to be lifted soon.
"""


def test_china_article_gets_all_three_labels_and_cn():
    result = get_classifier().classify(
        "Chinese lawmaker proposes faster blockchain rollout for government services",
        "The proposal targets public services and supply chains while the bitcoin mining ban and the crackdown on "
        "crypto trading stay in place.",
        CHINA_ARTICLE,
    )
    assert result.labels == ["adoption", "mining", "regulation"]
    assert "CN" in {e.id for e in result.entities if e.kind == "jurisdiction"}
    for label in result.labels:
        assert result.evidence[label]


def test_china_story_with_a_headline_about_one_topic_gets_the_others_from_the_body():
    result = get_classifier().classify(
        "Lawmaker calls for state blockchain platform for public records",
        "Ministries would move licences and land registries onto a shared ledger.",
        CHINA_ARTICLE,
    )
    assert result.labels == ["adoption", "mining", "regulation"]
    body_lines = [line for label in ("mining", "regulation") for line in result.evidence[label]
                  if line.startswith("body, words ")]
    assert body_lines, result.evidence


MARKET_FILLER = " ".join(
    [
        "Trading volumes were thin on Tuesday as investors waited for the monthly jobs report.",
        "The token's price moved between two levels that chart watchers have followed for weeks.",
        "Open interest in perpetual futures rose slightly while funding rates stayed flat.",
        "Several analysts said the market lacked a clear direction ahead of the holiday weekend.",
    ]
    * 5
)
MINING_PASSAGE = (
    "Separately, the country's energy ministry ordered bitcoin miners to shut down their rigs for the winter. "
    "Mining farms in the northern provinces consumed a tenth of the grid's power last year, officials said, and "
    "operators that keep their ASIC machines running will lose their licences. Hashrate from the region has "
    "already fallen by half since the order was announced, according to pool data."
)


def test_a_topic_told_only_at_the_end_of_a_long_body_is_found():
    title, summary = "Token trades sideways ahead of jobs data", "Traders stayed cautious."
    assert labels_of(title, summary, MARKET_FILLER) == []
    result = get_classifier().classify(title, summary, MARKET_FILLER + " " + MINING_PASSAGE)
    assert "mining" in result.labels
    start = len(MARKET_FILLER.split()) - 50  # the deciding passage is the last one, where the miners are
    assert any(line.startswith("body, words ") and int(line.split()[2].split("-")[0]) >= start
               for line in result.evidence["mining"]), result.evidence


PRICE_BODY = " ".join(
    [
        "Bitcoin traded in a narrow range on Monday as traders waited for inflation data.",
        "The largest cryptocurrency held support near $60,000 after a volatile weekend.",
        "Ether and solana followed the same pattern, while trading volumes stayed below their monthly average.",
        "Options traders bought protection against a further drop, according to derivatives data.",
        "Some analysts pointed to the SEC calendar as one of many events ahead this month.",
        "Funding rates on perpetual futures turned slightly negative, a sign of cautious positioning.",
    ]
    * 6
)


def test_body_mentioning_sec_once_does_not_make_price_story_regulation():
    result = get_classifier().classify("Bitcoin holds $60,000 as traders wait for inflation data", None, PRICE_BODY)
    assert result.labels == []


def test_body_stands_in_for_a_missing_summary():
    body = " ".join(
        [
            "The company said its miners added 3 exahashes per second of hashrate in the quarter.",
            "New ASIC machines were installed at its hosting sites, and mining revenue rose.",
            "The firm expects difficulty to keep rising after the halving.",
        ]
        * 3
    )
    assert labels_of("Company reports quarterly results", None, body) == ["mining"]


# --- model file, version, training ----------------------------------------------------------------------------


def test_version_is_the_model_files_and_is_stamped_on_every_result():
    model = json.loads(DEFAULT_MODEL_FILE.read_text(encoding="utf-8"))
    assert get_classifier().version == model["version"]
    assert labels_of("Regulator fines exchange") is not None
    assert get_classifier().classify("Miners add hashrate", None, None).version == model["version"]


def test_missing_or_malformed_model_is_a_clear_error(tmp_path):
    with pytest.raises(ModelError, match="make train"):
        Classifier(model_path=tmp_path / "absent.json")
    bad = tmp_path / "bad.json"
    bad.write_text("{not json", encoding="utf-8")
    with pytest.raises(ModelError, match="make train"):
        Classifier(model_path=bad)
    bad.write_text(json.dumps({"format": 1}), encoding="utf-8")
    with pytest.raises(ModelError, match="malformed"):
        Classifier(model_path=bad)


def test_model_trained_with_another_taxonomy_is_refused(tmp_path):
    copy = tmp_path / "taxonomy.yml"
    shutil.copy(TAXONOMY, copy)
    copy.write_text(copy.read_text(encoding="utf-8").replace("hashrate*: 3", "hashrate*: 2.5"), encoding="utf-8")
    with pytest.raises(ModelError, match="taxonomy"):
        Classifier(taxonomy_path=copy)


def test_training_reproduces_the_committed_model_byte_for_byte(tmp_path):
    if not training.POOL_ITEMS.exists():
        pytest.skip(f"item text not present: {training.POOL_ITEMS}")
    out = tmp_path / "model.json"
    assert training.main(["--out", str(out)]) == 0
    assert out.read_bytes() == DEFAULT_MODEL_FILE.read_bytes()


def test_training_refuses_unknown_ids_and_labels(tmp_path):
    if not training.POOL_ITEMS.exists():
        pytest.skip(f"item text not present: {training.POOL_ITEMS}")
    labels = tmp_path / "labels.jsonl"
    labels.write_text(json.dumps({"id": "nope", "labels": []}) + "\n", encoding="utf-8")
    with pytest.raises(training.TrainingError, match="not in"):
        training.load_items(labels)
    labels.write_text(json.dumps({"id": "p00000", "labels": ["memes"]}) + "\n", encoding="utf-8")
    with pytest.raises(training.TrainingError, match="unknown labels"):
        training.load_items(labels)


# --- interface, determinism -----------------------------------------------------------------------------------


def test_result_shape_and_json():
    result = get_classifier().classify("SEC fines exchange for unregistered offering", None, None)
    assert isinstance(result, Classification)
    assert set(result.scores) == set(LABELS)
    assert all(0.0 <= s <= 1.0 for s in result.scores.values())
    assert result.labels == sorted(result.labels)
    d = result.to_dict()
    assert set(d) == {"labels", "scores", "evidence", "entities", "version"}
    assert {"kind": "regulator", "id": "US-SEC"}.items() <= d["entities"][0].items() or any(
        e["id"] == "US-SEC" for e in d["entities"]
    )
    json.dumps(d)


def test_missing_fields_are_fine():
    result = get_classifier().classify(None, None, None)
    assert result.labels == [] and result.entities == []


def test_deterministic():
    a = Classifier().classify("Miners sell bitcoin as hashprice falls", "SEC and CFTC comment", CHINA_ARTICLE)
    b = Classifier().classify("Miners sell bitcoin as hashprice falls", "SEC and CFTC comment", CHINA_ARTICLE)
    assert a.to_dict() == b.to_dict()
    assert json.dumps(a.to_dict(), sort_keys=True) == json.dumps(b.to_dict(), sort_keys=True)


def test_classify_jsonl(tmp_path):
    src = io.StringIO(
        json.dumps({"id": "a", "title": "Bitcoin miners expand hashrate"})
        + "\n\n"
        + json.dumps({"id": "b", "summary": "Regulators ban crypto trading"})
        + "\n"
    )
    out = io.StringIO()
    assert classify_jsonl(src, out) == 2
    rows = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [r["id"] for r in rows] == ["a", "b"]
    assert rows[0]["labels"] == ["mining"]
    assert rows[1]["labels"] == ["regulation"]
    infile, outfile = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    infile.write_text(src.getvalue(), encoding="utf-8")
    assert classify_jsonl(infile, outfile) == 2


def test_output_is_the_same_in_every_process_whatever_the_hash_seed():
    """Labels, scores and evidence must not depend on set iteration order, which Python varies between processes
    (string hashing is randomised): processes with different seeds give byte-identical output on real items."""
    import os
    import subprocess
    import sys

    items = [{k: item.get(k) for k in ("id", "title", "summary", "text")} for item in dev_items()]
    stdin = "".join(json.dumps(item) + "\n" for item in items)
    outputs = []
    for seed in ("1", "2", "3"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        run = subprocess.run([sys.executable, "-m", "crypto_news.cli", "classify", "-"], input=stdin, env=env,
                             capture_output=True, text=True, timeout=120, check=True)
        outputs.append(run.stdout)
    assert outputs[0].count("\n") == len(items) and '"evidence"' in outputs[0]
    assert outputs[0] == outputs[1] == outputs[2]
