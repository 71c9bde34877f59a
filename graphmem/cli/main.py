"""The `graphmem` command line: a thin shell over `graphmem.Memory`."""

from __future__ import annotations

import dataclasses
import json
import os
import sys
from pathlib import Path

import click
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from graphmem.config import Config
from graphmem.errors import GraphmemError, GroupIdError
from graphmem.memory import load_config
from graphmem.models import MemberKind, check_group_id

console = Console()
# Errors and rejections are one line each, never wrapped (greppable when stderr is a file or pipe).
err_console = Console(stderr=True, soft_wrap=True)


class _Context:
    def __init__(self, overrides: dict):
        self.overrides = {k: v for k, v in overrides.items() if v is not None}

    def config(self) -> Config:
        return load_config(**self.overrides)

    def memory(self):
        from graphmem.memory import Memory

        return Memory(self.config())


@click.group()
@click.option("--store", type=click.Choice(["sqlite", "neo4j"]), help="Store backend (env GRAPHMEM_STORE).")
@click.option("--path", type=click.Path(dir_okay=False, path_type=Path), help="SQLite memory file (env GRAPHMEM_PATH).")
@click.option("--group", "group_id", callback=lambda ctx, param, value: _valid_group(value),
              help="Tenant / memory space (env GRAPHMEM_GROUP_ID): 1-128 ASCII letters, digits, . _ : @ / + -")
@click.version_option(package_name="graphmem")
@click.pass_context
def cli(ctx: click.Context, store: str | None, path: Path | None, group_id: str | None) -> None:
    """graphmem: a temporal graph memory for conversations."""
    ctx.obj = _Context({"store": store, "path": path, "group_id": group_id})


def _valid_group(value: str | None) -> str | None:
    if value is None:
        return None
    try:
        return check_group_id(value)
    except GroupIdError as error:
        raise click.BadParameter(str(error), param_hint="--group") from None


def _progress() -> Progress:
    return Progress(
        TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
        console=err_console, transient=True,
    )


@cli.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--group-per-conversation", is_flag=True,
              help="Store each conversation as its own tenant inside --group: <group>/<conversation id>.")
@click.option("--extractor", type=click.Choice(["spacy", "llm"]), help="Extractor (env GRAPHMEM_EXTRACTOR).")
@click.pass_obj
def ingest(obj: _Context, paths: tuple[Path, ...], group_per_conversation: bool, extractor: str | None) -> None:
    """Ingest conversation files (JSON or JSONL: LoCoMo or graphmem's generic format)."""
    if extractor:
        obj.overrides["extractor"] = extractor
    with obj.memory() as memory, _progress() as progress:
        task = progress.add_task("extracting", total=None)
        report = memory.ingest(
            paths,
            group_per_conversation=group_per_conversation,
            progress=lambda done, total: progress.update(task, completed=done, total=total),
        )
    written = report.written
    table = Table(title="ingest", show_header=False)
    rows = [
        ("files", report.files), ("conversations", report.conversations), ("messages read", report.messages_read),
        ("messages unchanged (skipped)", report.messages_skipped), ("messages added", report.messages_added),
        ("messages changed (re-extracted)", report.messages_changed),
        ("messages removed (gone from the file)", report.messages_removed),
        ("entities created", written.entities), ("events created", written.events),
        ("facts created", written.facts), ("records rejected", len(report.rejected)),
        ("seconds", f"{report.seconds:.1f}"), ("turns/s", f"{report.turns_per_second:.0f}"),
    ]
    if report.llm is not None:
        rows += [
            ("LLM calls", report.llm.calls), ("LLM prompt tokens", report.llm.prompt_tokens),
            ("LLM completion tokens", report.llm.completion_tokens), ("turns from the LLM cache", report.llm.cached_messages),
            ("turns extracted by spaCy (LLM reply invalid)", report.llm.fallback_messages),
        ]
    for name, value in rows:
        table.add_row(name, str(value))
    console.print(table)
    for problem in report.rejected:
        err_console.print(f"[yellow]rejected[/] {escape(str(problem))}", highlight=False)
    if any(problem.record == "file" for problem in report.rejected):
        sys.exit(1)  # a whole file was refused (the others were still ingested)
    if report.rejected:
        sys.exit(2)


@cli.command()
@click.argument("question")
@click.option("-k", "--k", default=10, show_default=True, help="How many messages to return.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON lines instead of a table.")
@click.option("--explain", is_flag=True, help="Print the graph path that led to each message.")
@click.pass_obj
def search(obj: _Context, question: str, k: int, as_json: bool, explain: bool) -> None:
    """Find the messages that answer QUESTION."""
    with obj.memory() as memory:
        hits = memory.search(question, k=k, explain=explain)
    if as_json:
        for hit in hits:
            click.echo(json.dumps(_evidence_dict(hit)))
        return
    table = Table("score", "id", "when", "speaker", "text", "why")
    for hit in hits:
        table.add_row(f"{hit.score:.3f}", hit.source_id, hit.ts.strftime("%Y-%m-%d %H:%M"), hit.speaker, hit.text,
                      "; ".join(hit.why))
    console.print(table)
    for rank, hit in enumerate(hits if explain else [], start=1):
        console.print(f"[bold]#{rank} {hit.source_id}[/]", highlight=False)
        for depth, step in enumerate(hit.path):
            console.print(f"  {'  ' * depth}{'└─ ' if depth else ''}{step}", highlight=False)


@cli.command()
@click.argument("question")
@click.option("-k", "--k", default=10, show_default=True, help="How many messages to give the LLM as evidence.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.pass_obj
def ask(obj: _Context, question: str, k: int, as_json: bool) -> None:
    """Answer QUESTION with the configured LLM, citing the messages it rests on."""
    with obj.memory() as memory:
        answer = memory.ask(question, k=k)
    if as_json:
        click.echo(json.dumps({
            "answer": answer.text, "supported": answer.supported, "cited": [_evidence_dict(e) for e in answer.cited],
            "usage": {"prompt_tokens": answer.usage.prompt_tokens, "completion_tokens": answer.usage.completion_tokens},
        }))
        return
    if answer.supported:
        console.print(answer.text, markup=False, highlight=False)
    else:
        console.print(f"[yellow]{answer.text}[/] (the evidence does not say)")
    if answer.cited:
        table = Table("id", "when", "speaker", "text", title="cited")
        for hit in answer.cited:
            table.add_row(hit.source_id, hit.ts.strftime("%Y-%m-%d %H:%M"), hit.speaker, hit.text)
        console.print(table)
    err_console.print(f"tokens: {answer.usage.prompt_tokens} prompt, {answer.usage.completion_tokens} completion")


def _evidence_dict(hit) -> dict:
    return {
        "message_id": hit.message_id, "source_id": hit.source_id, "conversation_id": hit.conversation_id,
        "speaker": hit.speaker, "text": hit.text, "ts": hit.ts.isoformat(), "score": hit.score, "why": list(hit.why),
        "facts": [_fact_dict(f) for f in hit.facts], "path": list(hit.path),
    }


@cli.command()
@click.pass_obj
def counts(obj: _Context) -> None:
    """Counts of what the memory holds, per tenant."""
    with obj.memory() as memory:
        groups = memory.groups() or [memory.config.group_id]
        table = Table("group", "conversations", "messages", "entities", "events", "facts")
        for group in groups:
            counts = memory.counts(group_id=group)
            table.add_row(group, *(str(v) for v in (counts.conversations, counts.messages, counts.entities,
                                                     counts.events, counts.facts)))
    console.print(table)


def _fact_dict(fact) -> dict:
    return {
        "subject": fact.subject, "predicate": fact.predicate, "object": fact.object, "text": fact.text,
        "source_id": fact.source_id, "observed_at": fact.observed_at.isoformat(),
        "valid_from": fact.valid_from.isoformat() if fact.valid_from else None,
        "valid_to": fact.valid_to.isoformat() if fact.valid_to else None, "precision": fact.precision,
        "expired_at": fact.expired_at.isoformat() if fact.expired_at else None, "current": fact.current,
    }


@cli.command()
@click.argument("name", required=False)
@click.option("--as-of", type=click.DateTime(["%Y-%m-%d"]), help="What was true in the world on this day.")
@click.option("--all", "include_superseded", is_flag=True, help="Include superseded facts.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON lines instead of a table.")
@click.pass_obj
def facts(obj: _Context, name: str | None, as_of, include_superseded: bool, as_json: bool) -> None:
    """Facts (about NAME): current ones unless --as-of or --all."""
    with obj.memory() as memory:
        found = memory.facts(name, as_of=as_of.date() if as_of else None, include_superseded=include_superseded)
    if as_json:
        for fact in found:
            click.echo(json.dumps(_fact_dict(fact)))
        return
    table = Table("subject", "predicate", "object", "valid from", "valid to", "learned", "status", "message")
    for fact in found:
        table.add_row(fact.subject, fact.predicate, fact.object, str(fact.valid_from or ""), str(fact.valid_to or ""),
                      f"{fact.observed_at:%Y-%m-%d}", "current" if fact.current else "superseded", fact.source_id)
    console.print(table)


@cli.command()
@click.argument("name")
@click.option("--after", type=click.DateTime(["%Y-%m-%d"]), help="Only what happened after this day.")
@click.option("--before", type=click.DateTime(["%Y-%m-%d"]), help="Only what happened before this day.")
@click.pass_obj
def timeline(obj: _Context, name: str, after, before) -> None:
    """Events and facts about NAME, in time order."""
    with obj.memory() as memory:
        items = memory.timeline(name, after=after.date() if after else None, before=before.date() if before else None)
    if not items:
        err_console.print(f"no entity named {name!r} in group {obj.config().group_id!r}")
        sys.exit(1)
    table = Table("when", "precision", "kind", "what", "message")
    for item in items:
        table.add_row(str(item.when or f"({item.observed_at:%Y-%m-%d})"), item.precision or "", item.kind, item.text,
                      item.message_id)
    console.print(table)


@cli.command()
@click.option("--http-port", default=7474, show_default=True, envvar="NEO4J_HTTP_PORT",
              help="Neo4j's HTTP port, where it serves Browser (env NEO4J_HTTP_PORT).")
@click.option("--serve", is_flag=True, help="Also serve the style and a guide to Browser on localhost, until Ctrl-C.")
@click.option("--port", default=7476, show_default=True, help="The port --serve listens on (0: any free one).")
@click.pass_obj
def browse(obj: _Context, http_port: int, serve: bool, port: int) -> None:
    """Where Neo4j Browser is, and how to load graphmem's style and saved queries into it."""
    from graphmem.browse import AssetServer, instructions

    config = obj.config()
    if not serve:
        click.echo(instructions(config, http_port))
        return
    with AssetServer(port, config.group_id) as server:
        click.echo(instructions(config, http_port, server.port))
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            err_console.print("stopped serving")


@cli.command()
@click.option("--full", is_flag=True, help="Re-cluster every scene, not only around what is new.")
@click.pass_obj
def consolidate(obj: _Context, full: bool) -> None:
    """Find scenes and personas and align them; incremental unless --full."""
    with obj.memory() as memory, err_console.status("consolidating: scenes, alignment, personas"):
        report = memory.consolidate(full=full)
    table = Table("", "", title=f"consolidation of {report.group_id} ({'full' if report.full else 'incremental'})")
    rows = [
        ("items (messages, events, facts)", report.items), ("new since the last run", report.new_items),
        ("no longer stored", report.removed_items), ("joined an existing scene", report.joined),
        ("clustered again", report.reclustered), ("scenes", report.scenes),
        ("scenes created or changed", report.scenes_changed),
        ("scenes split (stories of different people)", report.scenes_split),
        ("facts moved to the person who said them", report.facts_moved), ("personas", report.personas),
        ("personas rebuilt", report.personas_rebuilt),
        ("facets", report.facets),
    ]
    rows += [(f"seconds: {step}", f"{seconds:.3f}") for step, seconds in report.timings.items()]
    rows.append(("seconds: total", f"{report.seconds:.3f}"))
    rows += [(f"peak memory (MB): {step}", f"{mb:.0f}") for step, mb in report.peak_rss_mb.items()]
    rows.append(("peak memory (MB): overall", f"{report.peak_memory_mb:.0f} "
                 f"(+{report.peak_memory_mb - report.start_rss_mb:.0f} over the start)"))
    for name, value in rows:
        table.add_row(name, str(value))
    console.print(table)
    for change in report.changes:
        console.print(f"- {change}", markup=False, highlight=False)


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON lines (with member ids and weights).")
@click.pass_obj
def scenes(obj: _Context, as_json: bool) -> None:
    """Scenes of the group in time order (found by `graphmem consolidate`)."""
    with obj.memory() as memory:
        found = memory.scenes()
        names = {e.id: e.name for e in memory.entities()}
    if as_json:
        for scene in found:
            click.echo(json.dumps(dataclasses.asdict(scene), default=str))
        return
    if not found:
        err_console.print(f"no scenes in group {obj.config().group_id!r}: run `graphmem consolidate` first")
        sys.exit(1)
    table = Table("when", "label", "messages", "events", "facts", "participants", title=f"{len(found)} scenes")
    for scene in found:
        span = f"{scene.ts_start:%Y-%m-%d}"
        if scene.ts_end.date() != scene.ts_start.date():
            span += f" – {scene.ts_end:%Y-%m-%d}"
        counts = [len(scene.member_ids(kind)) for kind in MemberKind]
        table.add_row(span, scene.label, *map(str, counts), ", ".join(names.get(p, p) for p in scene.participants))
    console.print(table)


@cli.command()
@click.argument("name")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.pass_obj
def persona(obj: _Context, name: str, as_json: bool) -> None:
    """NAME's persona: facets, their facts (past ones marked) and the messages behind them."""
    with obj.memory() as memory:
        found = memory.persona(name)
        sources = {m.id: m.source_id for m in memory.messages()}
        names = {e.id: e.name for e in memory.entities()}
    if found is None:
        err_console.print(f"no persona for {name!r} in group {obj.config().group_id!r}: "
                          "a participant's persona appears after `graphmem consolidate`")
        sys.exit(1)
    if as_json:
        click.echo(json.dumps(dataclasses.asdict(found)))
        return
    console.print(f"[bold]{found.summary}[/]", highlight=False)
    for facet in found.facets:
        table = Table("fact", "status", "message", title=facet.label, title_justify="left")
        for fact in facet.facts:
            status = "current" if fact.current else "past"
            if fact.moved_from:
                status += f" (moved from {names.get(fact.moved_from, fact.moved_from)})"
            table.add_row(fact.text, status, sources.get(fact.message_id, fact.message_id))
        console.print(table)
        console.print("evidence: " + ", ".join(sorted(sources.get(m, m) for m in facet.evidence)), highlight=False)


@cli.group(name="eval")
def eval_group() -> None:
    """Benchmarks: measure retrieval quality and speed."""


def _eval_options(command):
    """The options every dataset's eval command takes."""
    for option in reversed((
        click.option("--k", "ks", default="5,10,20", show_default=True, help="Comma-separated cut-offs."),
        click.option("--json", "as_json", is_flag=True, help="Print one JSON object."),
        click.option("--baselines", is_flag=True, help="Also score BM25 and each graph channel alone, in the same run."),
        click.option("--consolidate", is_flag=True,
                     help="Consolidate each conversation (scenes, personas) before asking; with --baselines, "
                          "also score the ablation (without scenes and facets, without activation, PPR alone)."),
    )):
        command = option(command)
    return click.pass_obj(command)


@eval_group.command(name="locomo")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@_eval_options
def eval_locomo(obj: _Context, path: Path, ks: str, as_json: bool, baselines: bool, consolidate: bool) -> None:
    """Evidence recall@k per category and query latency on a LoCoMo file."""
    from graphmem.eval.locomo import locomo_set

    _run_eval(obj, locomo_set(path), ks, as_json, baselines, consolidate)


@eval_group.command(name="realtalk")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@_eval_options
def eval_realtalk(obj: _Context, paths: tuple[Path, ...], ks: str, as_json: bool, baselines: bool,
                  consolidate: bool) -> None:
    """Evidence recall@k per category and query latency on REALTALK chats (files or a folder of them)."""
    from graphmem.eval.locomo import realtalk_set

    _run_eval(obj, realtalk_set(paths), ks, as_json, baselines, consolidate)


def _run_eval(obj: _Context, dataset, ks: str, as_json: bool, baselines: bool, consolidate: bool) -> None:
    from graphmem.eval.locomo import variants_to_score, run_variants

    try:
        cutoffs = tuple(int(k) for k in ks.split(",") if k.strip())
    except ValueError:
        raise click.BadParameter(f"expected integers like 5,10,20; got {ks!r}", param_hint="--k") from None
    if not dataset.conversations:
        raise click.UsageError(f"{dataset.name}: no conversation to evaluate")
    with _progress() as progress:
        tasks: dict[str, int] = {}

        def on_progress(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                tasks[stage] = progress.add_task(stage, total=total)
            progress.update(tasks[stage], completed=done)

        config = obj.config()
        variants = variants_to_score(baselines=baselines, consolidate=consolidate, dense=config.embeddings != "none")
        results = run_variants(dataset, variants, ks=cutoffs, config=config, on_progress=on_progress)
    result = results["graphmem"]
    if as_json:
        report = result.to_json()
        if baselines:
            report["baselines"] = {name: r.to_json() for name, r in results.items() if name != "graphmem"}
        click.echo(json.dumps(report))
        return
    if baselines:
        _print_baselines(results)
    table = Table("category", "questions", *(f"R@{k}" for k in result.ks), title=f"{dataset.name} evidence recall")
    for group, by_k in result.recall.items():
        label = "all" if group == "all" else f"{group} {dataset.categories.get(int(group), '')}" if group.isdigit() else group
        table.add_row(label, str(result.counts[group]), *(f"{by_k[k]:.3f}" for k in result.ks))
    console.print(table)
    console.print(
        f"questions {result.questions} (skipped {result.skipped}; evidence ids dropped {result.dropped_evidence}) · "
        f"latency p50 {result.latency_ms['p50']:.1f} ms, p95 {result.latency_ms['p95']:.1f} ms · "
        f"ingest {result.ingest_turns_per_s:.0f} turns/s ({result.turns} turns)"
    )


_SERVE_FLAGS = {"store": "--store", "path": "--memory-path", "group_id": "--group"}


@cli.command(context_settings={"ignore_unknown_options": True, "allow_extra_args": True, "help_option_names": []})
@click.pass_context
def serve(ctx: click.Context) -> None:
    """Ingest an inbox on a schedule (Prefect).

    Serves the flows of flows/ (see flows/README.md); options: `graphmem serve --help`.
    """
    # The flows sit above the library (they call Memory), so the library does not import them:
    # this process becomes `python -m flows.serve`, same pid, so signals reach the served flows.
    overrides = [arg for name, value in ctx.obj.overrides.items() for arg in (_SERVE_FLAGS[name], str(value))]
    sys.stdout.flush()
    os.execv(sys.executable, [sys.executable, "-m", "flows.serve", *overrides, *ctx.args])


def _print_baselines(results: dict) -> None:
    any_result = next(iter(results.values()))
    table = Table("ranking", *(f"R@{k}" for k in any_result.ks), "multi-hop R@10", "p50 ms", "p95 ms",
                  title="baselines (same ingest, same questions)")
    for name, result in results.items():
        multi_hop = result.recall.get("1", {}).get(10)
        table.add_row(name, *(f"{result.recall['all'][k]:.3f}" for k in result.ks),
                      f"{multi_hop:.3f}" if multi_hop is not None else "-",
                      f"{result.latency_ms['p50']:.1f}", f"{result.latency_ms['p95']:.1f}")
    console.print(table)


def main() -> None:
    try:
        cli.main(standalone_mode=False)
    except click.exceptions.Abort:
        err_console.print("aborted")
        sys.exit(130)
    except click.UsageError as exc:
        hint = f" (see `{exc.ctx.command_path} --help`)" if exc.ctx is not None else ""
        _error_line(f"{exc.format_message()}{hint}")
        sys.exit(exc.exit_code)
    except click.ClickException as exc:
        _error_line(exc.format_message())
        sys.exit(exc.exit_code)
    except GraphmemError as exc:
        _error_line(str(exc))
        sys.exit(1)


def _error_line(message: str) -> None:
    """A user error as one line on stderr: `error: ...` with no traceback, no wrapping."""
    err_console.print(f"[red]error:[/] {escape(' '.join(message.split()))}", highlight=False)
