"""docker-compose.yml: the Neo4j service users deploy graphmem with."""

from __future__ import annotations

import pytest
import yaml

from tests.conftest import ROOT


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def neo4j(compose) -> dict:
    return compose["services"]["neo4j"]


def test_neo4j_is_the_pinned_community_image_with_apoc(neo4j):
    assert neo4j["image"] == "neo4j:5.26-community"
    assert neo4j["environment"]["NEO4J_PLUGINS"] == '["apoc"]'


def test_neo4j_auth_comes_from_the_environment_with_the_dev_default(neo4j):
    assert neo4j["environment"]["NEO4J_AUTH"] == "neo4j/${NEO4J_PASSWORD:-graphmem-dev}"


def test_neo4j_publishes_browser_and_bolt(neo4j):
    published = {port.split(":")[-1]: port for port in neo4j["ports"]}
    assert published == {"7474": "7474:7474", "7687": "7687:7687"}


def test_neo4j_keeps_data_and_logs_in_named_volumes(compose, neo4j):
    mounts = dict(volume.split(":", 1) for volume in neo4j["volumes"])
    assert mounts == {"neo4j-data": "/data", "neo4j-logs": "/logs"}
    assert {"neo4j-data", "neo4j-logs"} <= compose["volumes"].keys()


def test_neo4j_has_a_healthcheck(neo4j):
    check = neo4j["healthcheck"]
    assert check["test"][0] == "CMD-SHELL" and "7474" in check["test"][1]
    assert {"interval", "timeout", "retries"} <= check.keys()
