"""The LoCoMo harness: its scoring functions, and a real run on one dev conversation."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from graphmem.eval.locomo import percentile, recall_at_k, run_locomo, valid_evidence
from tests.conftest import LOCOMO_DEV


def test_valid_evidence_handles_the_known_quirks():
    known = {"D1:3", "D8:6", "D9:17", "D11:26"}
    assert valid_evidence(["D8:6; D9:17"], known) == ["D8:6", "D9:17"]
    assert valid_evidence(["D:11:26", "D1:3", "D1:3"], known) == ["D1:3"]
    assert valid_evidence(["D99:1"], known) == []
    assert valid_evidence([], known) == []


def test_recall_at_k_and_percentile():
    assert recall_at_k(["a", "b"], ["x", "a", "y", "b"], 2) == 0.5
    assert recall_at_k(["a", "b"], ["x", "a", "y", "b"], 4) == 1.0
    assert percentile([1, 2, 3, 4], 50) == 2.5
    assert percentile([5.0], 95) == 5.0


@pytest.fixture(scope="module")
def one_conversation(tmp_path_factory):
    sample = json.loads(LOCOMO_DEV.read_text())[0]
    sample["qa"].append({"question": "broken?", "answer": 3, "evidence": ["D:1:1"], "category": 4})
    path = tmp_path_factory.mktemp("locomo") / "one.json"
    path.write_text(json.dumps([sample]))
    return path, len(sample["qa"])


def test_run_scores_every_question(one_conversation):
    path, total = one_conversation
    result = run_locomo(path, ks=(5, 10))
    assert result.questions == total and result.skipped >= 1
    assert result.counts["all"] == total - result.skipped
    assert 0.3 < result.recall["all"][10] <= 1.0
    assert result.recall["all"][5] <= result.recall["all"][10]
    assert set(result.recall) >= {"all", "1", "2", "4"}
    assert result.latency_ms["p50"] > 0 and result.ingest_turns_per_s > 0


def test_cli_json_output(one_conversation, tmp_path):
    path, _ = one_conversation
    out = subprocess.run(
        [sys.executable, "-m", "graphmem", "--path", str(tmp_path / "unused.db"), "eval", "locomo", str(path),
         "--k", "5,10", "--json"],
        capture_output=True, text=True, timeout=300, check=True,
    )
    report = json.loads(out.stdout)
    assert set(report) >= {"recall", "questions", "skipped", "latency_ms", "ingest_turns_per_s"}
    assert set(report["recall"]["all"]) == {"5", "10"} and set(report["latency_ms"]) == {"p50", "p95"}
    assert not (tmp_path / "unused.db").exists()
