"""REALTALK chat exports: read as input, and scored by the eval harness despite their quirks."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import date, datetime

import pytest

from graphmem import Config, Memory
from graphmem.eval.locomo import Variant, realtalk_set, run_variants, valid_evidence
from graphmem.ingest.loaders import load_file
from tests.conftest import ROOT

CHAT = ROOT / "tests" / "data" / "realtalk" / "Chat_9_Ann_Bo.json"


def test_chat_is_one_conversation_with_per_message_times_and_captions():
    loaded = load_file(CHAT)
    (chat,) = loaded.conversations
    assert chat.id == "Chat_9_Ann_Bo" and chat.participants == ("Ann", "bo")
    assert [m.id for m in chat.messages] == ["D1:1", "D1:2", "D1:4", "D1:5", "D2:1", "D2:2"]
    assert [m.session for m in chat.messages] == [1, 1, 1, 1, 2, 2]
    assert chat.messages[1].ts == datetime(2023, 12, 30, 0, 32, 20)
    assert chat.messages[0].ts != chat.messages[1].ts
    assert chat.messages[2].caption == "a cat sitting on a sofa" and chat.messages[2].text == "Wow! Here is my cat Fluffy"
    texts = " ".join(m.text for m in chat.messages)
    assert "adopted" not in texts and "What pet" not in texts  # events_session_N and qa are annotations
    (problem,) = loaded.problems
    assert problem.field == "date_time" and "session_2[2]" in problem.record and "'bad date'" in problem.problem


def test_time_expressions_resolve_against_each_messages_own_time(tmp_path):
    with Memory(Config(path=tmp_path / "memory.db", group_id="chat")) as memory:
        memory.ingest(CHAT)
        days = {(item.message_id, item.when) for item in memory.timeline("bo")}
    assert ("D1:2", date(2023, 12, 29)) in days  # "yesterday", said just after midnight on the 30th
    assert ("D2:1", date(2023, 12, 31)) in days  # "last night", said on New Year's Day


def test_evidence_ids_keep_only_those_naming_a_message():
    known = {"D1:4", "D1:5", "D2:1"}
    assert valid_evidence(["D1:4 D1:5"], known) == ["D1:4", "D1:5"]
    assert valid_evidence(["D1;5", "D2:1", "D7:3", ""], known) == ["D2:1"]
    assert valid_evidence(["D1:3"], known) == []


@pytest.fixture(scope="module")
def scored():
    return run_variants(realtalk_set([CHAT.parent]), {"graphmem": Variant(), "bm25": Variant(("bm25",))}, ks=(1, 5))


def test_eval_skips_questions_without_valid_evidence_and_counts_dropped_ids(scored):
    result = scored["graphmem"]
    assert result.questions == 4 and result.skipped == 1
    assert result.dropped_evidence == 4  # "D1;5", absent "D7:3", skipped number "D1:3", empty ""
    assert result.counts == {"all": 3, "1": 2, "2": 1}
    assert result.turns == 6
    assert result.recall["all"][1] <= result.recall["all"][5] == pytest.approx(1.0)
    assert scored["bm25"].counts == result.counts


def test_cli_eval_realtalk_json(tmp_path):
    out = subprocess.run(
        [sys.executable, "-m", "graphmem", "--path", str(tmp_path / "unused.db"), "eval", "realtalk", str(CHAT.parent),
         "--k", "5", "--json"],
        capture_output=True, text=True, timeout=300, check=True,
    )
    report = json.loads(out.stdout)
    assert report["questions"] == 4 and report["skipped"] == 1 and report["dropped_evidence"] == 4
    assert set(report["recall"]) == {"all", "1", "2"}
    assert not (tmp_path / "unused.db").exists()


def test_consolidated_eval_scores_the_ablation_on_one_ingest():
    from graphmem.eval.locomo import ABLATION, variants_to_score

    variants = variants_to_score(baselines=True, consolidate=True, dense=False)
    assert set(ABLATION) <= set(variants) and variants["graphmem"].scenes
    assert not any(v.channels == ("dense",) for v in variants.values())
    results = run_variants(realtalk_set([CHAT]), {name: variants[name] for name in ABLATION}, ks=(5,))
    assert list(results) == list(ABLATION)
    assert {r.counts["all"] for r in results.values()} == {3}
