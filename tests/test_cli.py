"""The `graphmem` command, run as a user runs it (a real subprocess)."""

from __future__ import annotations

import json
import os
import subprocess
import shlex
import sys
from itertools import takewhile
from pathlib import Path

from graphmem import Config, Memory
from tests.conftest import SAMPLE


def graphmem(tmp_path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "GRAPHMEM_PATH": str(tmp_path / "memory.db"), "COLUMNS": "200", **(env or {})}
    return subprocess.run([sys.executable, "-m", "graphmem", *args], capture_output=True, text=True, env=env, timeout=300)


def table_rows(text: str) -> list[list[str]]:
    """The cells of each body row of a table the CLI printed."""
    return [[cell.strip() for cell in line.strip("│").split("│")] for line in text.splitlines() if line.startswith("│")]


def test_ingest_search_counts(tmp_path):
    ingest = graphmem(tmp_path, "ingest", str(SAMPLE))
    assert ingest.returncode == 0, ingest.stderr
    with Memory(Config(path=tmp_path / "memory.db")) as memory:
        held = memory.counts()
    assert held.messages == 12
    rows = dict(table_rows(ingest.stdout))
    assert [rows[name] for name in ("files", "messages read", "messages added", "records rejected")] == ["1", "12", "12", "0"]
    assert [rows[f"{kind} created"] for kind in ("entities", "events", "facts")] == [
        str(held.entities), str(held.events), str(held.facts)
    ]
    query = graphmem(tmp_path, "search", "When did Ana move to Porto?", "--json", "-k", "2")
    hits = [json.loads(line) for line in query.stdout.splitlines()]
    assert hits[0]["source_id"] == "s2-6" and set(hits[0]) >= {"text", "speaker", "ts", "score", "why"}
    counts = graphmem(tmp_path, "counts")
    assert table_rows(counts.stdout) == [
        ["default", "1", "12", str(held.entities), str(held.events), str(held.facts)]
    ]


def test_bad_file_gives_one_clear_line(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_bytes(b"\xff\xfe not utf8")
    result = graphmem(tmp_path, "ingest", str(bad))
    assert result.returncode == 1
    assert "not UTF-8" in result.stderr and str(bad) in result.stderr.replace("\n", "")
    assert "Traceback" not in result.stderr


def test_rejected_records_exit_2_and_are_listed(tmp_path):
    data = json.loads(SAMPLE.read_text())
    data["messages"][0]["timestamp"] = "never"
    path = tmp_path / "partly.json"
    path.write_text(json.dumps(data))
    result = graphmem(tmp_path, "ingest", str(path))
    assert result.returncode == 2
    assert "field 'timestamp'" in result.stderr.replace("\n", "")


def test_an_invalid_group_is_one_line_without_traceback(tmp_path):
    for args, env in ((["--group", "", "counts"], {}), (["counts"], {"GRAPHMEM_GROUP_ID": ""})):
        result = graphmem(tmp_path, *args, env=env)
        assert result.returncode in (1, 2) and "Traceback" not in result.stderr
        assert "invalid group id ''" in result.stderr
        assert len(result.stderr.strip().splitlines()) <= 3, result.stderr


def test_devices_pipes_and_bad_memory_paths_are_one_line_errors(tmp_path):
    fifo = tmp_path / "pipe.json"
    os.mkfifo(fifo)
    for source in (str(fifo), "/dev/zero", "/dev/urandom"):
        result = graphmem(tmp_path, "ingest", source)  # used to block or read forever
        assert result.returncode == 1 and "Traceback" not in result.stderr
        assert f"{source}: file: not a regular file" in result.stderr
    result = graphmem(tmp_path, "--path", "/proc/self/x/y.db", "counts")
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert [line for line in result.stderr.splitlines() if line.strip()] == [
        "error: cannot open the memory file /proc/self/x/y.db: [Errno 2] No such file or directory: '/proc/self/x'"]


def test_each_rejection_is_one_unwrapped_line_when_stderr_is_not_a_terminal(tmp_path):
    data = json.loads(SAMPLE.read_text())
    data["messages"][0]["timestamp"] = "a timestamp long enough to make this rejection run well past eighty columns"
    data["messages"][1]["speaker"] = 5.5
    path = tmp_path / "partly.json"
    path.write_text(json.dumps(data))
    env = {"COLUMNS": "", "TERM": "dumb"}
    result = graphmem(tmp_path, "ingest", str(path), env=env)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    rejected = [line for line in result.stderr.splitlines() if line.startswith("rejected ")]
    assert len(rejected) == 2 and all(str(path) in line for line in rejected)
    assert any("field 'timestamp'" in line and line.endswith("does not name a full date (year, month and day)")
               or "cannot parse" in line for line in rejected)
    assert any("messages[1], field 'speaker'" in line for line in rejected)


def test_group_per_conversation_is_scoped_under_the_group(tmp_path):
    hostile = {"conversation_id": "victim", "messages": [
        {"id": "1", "speaker": "Eve", "text": "hello", "timestamp": "2024-01-01T10:00:00"}]}
    path = tmp_path / "pick.json"
    path.write_text(json.dumps(hostile))
    result = graphmem(tmp_path, "--group", "mine", "ingest", "--group-per-conversation", str(path))
    assert result.returncode == 0, result.stderr
    counts = graphmem(tmp_path, "counts")
    assert [row[0] for row in table_rows(counts.stdout)] == ["mine/victim"]


ROOT = Path(__file__).resolve().parents[1]
_GLOBAL_OPTIONS = {"--store", "--path", "--group"}


def _documented_invocations() -> list[tuple[str, list[str]]]:
    """Every `graphmem ...` command line in README's and flows/README's shell blocks and in the
    Makefile's recipes: (where, its words after `graphmem`)."""
    found = []
    for path in (ROOT / "README.md", ROOT / "flows" / "README.md", ROOT / "Makefile"):
        in_shell = path.name == "Makefile"
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if path.suffix == ".md" and line.startswith("```"):
                in_shell = line.strip() in ("```bash", "```sh", "```console")
                continue
            words = line.replace("$(VENV)/bin/", "").replace(".venv/bin/", "").split()
            if (in_shell or line.startswith("    graphmem ")) and words[:1] == ["graphmem"]:
                found.append((f"{path.name}:{number}", words[1:]))  # the command and options come first
    return found


def test_every_documented_command_line_names_a_command_graphmem_has():
    from graphmem.cli.main import cli

    invocations = _documented_invocations()
    assert len(invocations) >= 8  # the two commands' recipe lines and README's examples were found
    unknown = []
    for where, words in invocations:
        while words and words[0] in _GLOBAL_OPTIONS:
            words = words[2:]
        if words and not words[0].startswith("-") and words[0] not in cli.commands:
            unknown.append((where, words[0]))
    assert unknown == []


def test_make_demo_s_commands_ingest_the_sample_and_find_the_answer(tmp_path):
    """The Makefile's `demo` recipe (the main command), run as written, on a memory file of its own."""
    makefile = (ROOT / "Makefile").read_text().splitlines()
    start = makefile.index("demo: $(INSTALLED)") + 1
    recipe = [line.strip() for line in takewhile(lambda line: line.startswith("\t"), makefile[start:])]
    binary = str(Path(sys.executable).parent / "graphmem")
    outputs = []
    for line in recipe:
        words = shlex.split(line.replace("$(VENV)/bin/graphmem", binary).replace(".demo/memory.db", str(tmp_path / "m.db")))
        done = subprocess.run(words, cwd=ROOT, capture_output=True, text=True, timeout=300, check=False)
        assert done.returncode == 0, done.stderr
        outputs.append(done.stdout)
    first_row = next(line for line in outputs[-1].splitlines() if line.startswith("│"))
    assert first_row.split("│")[2].strip() == "s2-6"  # "By the way, I moved to Porto last month"
