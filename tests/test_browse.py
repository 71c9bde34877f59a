"""Browsing in Neo4j Browser: the style, the saved queries, the guide, their server and `graphmem browse`.

(The real-browser test that clicks through all of it is tests/test_browser.py.)
"""

from __future__ import annotations

import os
import threading
import subprocess
import sys
import urllib.error
import urllib.request
from datetime import datetime

import pytest

from graphmem.browse import STYLE_FILE, AssetServer, asset_url, browser_url, guide_html, saved_queries
from graphmem.config import Config
from graphmem.memory import Memory
from graphmem.models import MessageNode
from graphmem.store.neo4j.store import message_excerpt
from tests.conftest import SAMPLE, run_cypher

LABELS = ("Conversation", "Message", "Entity", "Event", "Scene", "Persona", "Facet")


def parse_grass(text: str) -> dict[str, dict[str, str]]:
    """GraSS as Neo4j Browser 5 parses it (its `parseGrass`): quotes toggle on ' and ", braces
    open and close a rule, and a declaration whose value holds another colon is dropped."""
    rules: dict[str, str] = {}
    selector, body, quoted, in_rule = "", "", False, False
    for char in text:
        if char in "'\"":
            quoted = not quoted
        elif char == "{" and not quoted:
            in_rule = True
        elif char == "}" and not quoted:
            rules[selector], selector, body, in_rule = body, "", "", False
        elif in_rule:
            body += char
        elif not char.isspace():
            selector += char
    parsed = {}
    for name, declarations in rules.items():
        pairs = [d.split(":") for d in declarations.split(";")]
        parsed[name] = {pair[0].strip(): pair[1].strip() for pair in pairs if len(pair) == 2}
    return parsed


def test_the_style_gives_each_label_its_own_colour_and_a_caption_browser_can_parse():
    style = parse_grass(STYLE_FILE.read_text())
    captions = {label: style[f"node.{label}"]["caption"] for label in LABELS}
    assert captions == {"Conversation": "{source_id}", "Message": "{excerpt}", "Entity": "{name}",
                        "Event": "{summary}", "Scene": "{label}", "Persona": "{name}", "Facet": "{label}"}
    colours = [style[f"node.{label}"]["color"] for label in LABELS]
    assert len(set(colours)) == len(LABELS)
    assert style["relationship.RELATES"]["caption"] == "{predicate} {valid_from}"
    sizes = [int(rule["font-size"].removesuffix("px")) for rule in style.values() if "font-size" in rule]
    assert sizes and min(sizes) >= 9


def test_every_saved_query_says_what_it_shows_and_which_params_it_takes():
    queries = {query.name: query for query in saved_queries()}
    assert list(queries)[:2] == ["overview", "person"]
    assert set(queries) == {"overview", "person", "timeline", "scene", "what_changed", "evidence"}
    for query in queries.values():
        assert query.title and len(query.description) > 60, query.name
        assert "group_id" in query.params and "$group_id" in query.statement, query.name
        assert all(f"${name}" in query.statement for name in query.params), query.name
        assert not query.statement.startswith("//")
    assert queries["evidence"].params["message_ids"].startswith("[")
    assert queries["timeline"].param_commands("g-1") == [':param group_id => "g-1"', ':param name => "Ana"']


def test_the_browser_url_names_the_server_and_fills_in_the_connect_form():
    url = browser_url("bolt://127.0.0.1:7687", "neo4j")
    assert url == "http://127.0.0.1:7474/browser/?dbms=bolt://neo4j@127.0.0.1:7687"
    url = browser_url("neo4j://graph.internal:7688", "reader", 17474, guide_url="http://localhost:7476/guide.html")
    assert url == ("http://graph.internal:17474/browser/?dbms=neo4j://reader@graph.internal:7688"
                   "&cmd=guide&arg=http://localhost:7476/guide.html")


def test_the_guide_loads_the_style_sets_the_group_and_holds_every_query():
    queries = saved_queries()
    guide = guide_html(queries, "http://localhost:7476/graphmem.grass", "user-42")
    assert 'data-exec="style http://localhost:7476/graphmem.grass"' in guide
    assert 'data-exec="param group_id =&gt; &quot;user-42&quot;"' in guide
    assert guide.count("<slide") == len(queries) + 1
    assert "MATCH (conversation:Conversation {group_id: $group_id})" in guide
    assert '<pre class="code runnable">:param name =&gt; &quot;Ana&quot;</pre>' in guide


def test_the_server_gives_browser_the_style_guide_and_queries_across_origins():
    with AssetServer(0, "user-42") as server:
        threading.Thread(target=server.serve_forever, daemon=True).start()
        try:
            with urllib.request.urlopen(asset_url(server.port, "graphmem.grass")) as response:
                assert response.read() == STYLE_FILE.read_bytes()
                assert response.headers["Access-Control-Allow-Origin"] == "*"
            with urllib.request.urlopen(asset_url(server.port, "guide.html")) as response:
                assert "user-42" in response.read().decode()
            with urllib.request.urlopen(asset_url(server.port, "timeline.cypher")) as response:
                assert b"$name" in response.read()
            preflight = urllib.request.Request(asset_url(server.port, "guide.html"), method="OPTIONS",
                                               headers={"Access-Control-Request-Headers": "pragma,sentry-trace"})
            with urllib.request.urlopen(preflight) as response:
                assert response.headers["Access-Control-Allow-Headers"] == "pragma,sentry-trace"
            for outside in ("../pyproject.toml", "read/messages.cypher", "nothing.html"):
                with pytest.raises(urllib.error.HTTPError, match="404"):
                    urllib.request.urlopen(asset_url(server.port, outside))
        finally:
            server.shutdown()


def test_a_message_excerpt_is_speaker_day_and_text_cut_at_a_word():
    def excerpt(text: str) -> str:
        return message_excerpt(MessageNode("m", "s", "c", 0, "Ana", "e", text, datetime(2024, 5, 2, 20, 23)))

    assert excerpt("Short.") == "Ana (2024-05-02): Short."
    long = excerpt("Poor Pepper. By the way, I moved to Porto last month, so we're neighbours now!")
    assert long == "Ana (2024-05-02): Poor Pepper. By the way, I moved to…" and len(long) <= 60
    assert len(excerpt("x" * 200)) == 60


def graphmem(*args: str, **popen) -> subprocess.Popen:
    env = {**os.environ, "NEO4J_URI": "bolt://db.internal:7687", "NEO4J_HTTP_PORT": "17474"}
    return subprocess.Popen([sys.executable, "-m", "graphmem", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=env, **popen)


def test_graphmem_browse_prints_where_browser_is_and_how_to_load_style_and_queries():
    out, err = graphmem("--group", "user-42", "browse").communicate(timeout=60)
    assert "http://db.internal:17474/browser/?dbms=bolt://neo4j@db.internal:7687" in out, err
    assert ':param group_id => "user-42"' in out
    assert str(STYLE_FILE) in out and ":style" in out
    paths = [str(query.path) for query in saved_queries()]
    assert len(paths) == 6 and all(path in out for path in paths)
    assert "graphmem browse --serve" in out


def test_graphmem_browse_serve_serves_the_guide_it_opens():
    process = graphmem("--group", "user-42", "browse", "--serve", "--port", "0")
    try:
        first = process.stdout.readline()
        guide = first.split("arg=", 1)[1].strip()
        assert first.startswith("Neo4j Browser   http://db.internal:17474/browser/?") and "cmd=guide" in first
        with urllib.request.urlopen(guide, timeout=10) as response:
            assert "Use group user-42" in response.read().decode()
    finally:
        process.terminate()
        process.communicate(timeout=30)


@pytest.mark.neo4j
def test_every_saved_query_runs_on_neo4j_with_its_example_params_and_shows_the_sample(neo4j_store):
    group = "browse-queries"
    Memory(Config(group_id=group), store=neo4j_store).ingest(SAMPLE)
    evidence = run_cypher(neo4j_store, "MATCH (m:Message {group_id: $group}) WHERE m.source_id IN ['s2-5', 's2-6'] "
                                       "RETURN m.id AS id ORDER BY m.ts", group=group)
    rows = {}
    for query in saved_queries():
        params = {name: run_cypher(neo4j_store, f"RETURN {value} AS value")[0]["value"]
                  for name, value in query.params.items()}  # the header's examples, as Browser's :param sets them
        params["group_id"] = group
        if "message_ids" in params:  # the header's example is a placeholder
            params["message_ids"] = [row["id"] for row in evidence]
        rows[query.name] = run_cypher(neo4j_store, query.statement, **params)

    assert len(rows["overview"]) == 6
    assert {row["spoken"][2]["name"] for row in rows["overview"]} == {"Ana", "Ben"}
    assert rows["overview"][0]["spoken"][0]["excerpt"].startswith("Ana (2024-03-11): Hi Ben! I started a new job")
    assert rows["person"][0]["person"]["name"] == "Ana" and rows["person"][0]["facts"]
    assert any(row["what"].startswith("Ana visited Kyoto") for row in rows["timeline"])
    assert [row["text"][:12] for row in rows["evidence"]] == ["I will. Pepp", "Poor Pepper."]
