"""Serve graphmem's flows as scheduled deployments from this process: `python -m flows.serve`.

    python -m flows.serve --inbox ./inbox --interval 60      # also: graphmem serve ...

Deployments (all named by --name, "graphmem" by default):
- `ingest/graphmem`: the inbox, every --interval seconds or on --cron; with no --inbox it is
  served unscheduled and each run names its `source`. At most one run at a time: a run due
  while the previous one still works is cancelled rather than queued behind it.
- `consolidate/graphmem`: on --consolidate-cron, else on demand.
- `forget-group/graphmem`, `rebuild-index/graphmem`: on demand
  (`prefect deployment run forget-group/graphmem -p group_id=...`).

Stopping: SIGINT (Ctrl-C) or SIGTERM stops serving within 5 s, without a traceback, whenever it
lands. Prefect runs in a child process (its own process group, with the flow runs it starts);
this process passes the signal on as Ctrl-C to Prefect's runner and then kills what is left of
that group, at once if the runner stopped or after STOP_SECONDS if not, so a signal landing while
a flow run finishes can no longer leave it hanging.

Schedules need a Prefect API with its scheduler, a server (`prefect server start`) or Prefect
Cloud, named by PREFECT_API_URL; the temporary server Prefect starts on its own has none.
The schedule options can also be set by the environment variables shown in `--help`. Flow runs
execute in child processes of this one and read graphmem's configuration (graphmem.toml,
GRAPHMEM_* variables) themselves; --store, --memory-path and --group override it in the deployments.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path

import click

INGEST_INTERVAL_SECONDS = 60
STOP_SECONDS = 2.5
"""After SIGINT or SIGTERM, how long Prefect gets to stop tidily before its processes are killed."""
READY_LINE = "graphmem serve: serving"
_CHILD = "GRAPHMEM_SERVE_CHILD"


@click.command(name="serve")
@click.option("--inbox", type=click.Path(file_okay=False, path_type=Path), show_envvar=True, envvar="GRAPHMEM_INBOX",
              help="Folder to ingest conversation files from, on the schedule.")
@click.option("--pattern", show_envvar=True, envvar="GRAPHMEM_INBOX_PATTERN",
              help="Glob of the files to take from the inbox (default: *.json, *.jsonl, *.ndjson).")
@click.option("--interval", type=click.IntRange(min=1), show_envvar=True, envvar="GRAPHMEM_INGEST_INTERVAL",
              help=f"Seconds between inbox ingests (default {INGEST_INTERVAL_SECONDS} unless --cron is given).")
@click.option("--cron", show_envvar=True, envvar="GRAPHMEM_INGEST_CRON",
              help="Cron schedule of inbox ingests, instead of --interval.")
@click.option("--consolidate-cron", show_envvar=True, envvar="GRAPHMEM_CONSOLIDATE_CRON",
              help="Cron schedule of consolidation, e.g. '0 3 * * *' (default: on demand only).")
@click.option("--group", "group_id", callback=lambda ctx, param, value: _valid_group(value),
              help="Tenant the deployments work on (default: graphmem's configuration).")
@click.option("--store", type=click.Choice(["sqlite", "neo4j"]), help="Store backend (default: configuration).")
@click.option("--memory-path", type=click.Path(dir_okay=False, path_type=Path),
              help="SQLite memory file (default: configuration).")
@click.option("--ledger-path", type=click.Path(dir_okay=False, path_type=Path),
              help="Ingest ledger file (default: next to the memory file).")
@click.option("--name", default="graphmem", show_default=True, help="Name of the deployments.")
@click.option("--limit", type=click.IntRange(min=1), show_envvar=True, envvar="GRAPHMEM_SERVE_LIMIT",
              help="Most flow runs this process executes at once (default: no limit).")
def main(
    inbox: Path | None, pattern: str | None, interval: int | None, cron: str | None, consolidate_cron: str | None,
    group_id: str | None, store: str | None, memory_path: Path | None, ledger_path: Path | None, name: str,
    limit: int | None,
) -> None:
    """Serve graphmem's flows (ingest, consolidate, forget-group, rebuild-index) on schedules."""
    if os.environ.get(_CHILD):
        sys.unraisablehook = _without_event_loop_finalizers(sys.unraisablehook)
        try:
            signal.signal(signal.SIGINT, signal.default_int_handler)  # started ignoring it: see _supervise
            _serve(inbox, pattern, interval, cron, consolidate_cron, group_id, store, memory_path, ledger_path, name,
                   limit)
        except (KeyboardInterrupt, asyncio.CancelledError):
            # Ctrl-C reaches asyncio.run as a cancellation of Prefect's runner; when the runner was also
            # cancelled from inside, asyncio.run re-raises CancelledError instead of KeyboardInterrupt
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(0)  # stopped as asked; interpreter teardown would only finalise Prefect's abandoned loops
        return
    context = click.get_current_context()
    arguments = [
        text for param in context.command.params
        if (value := context.params.get(param.name)) not in (None, param.default)
        for text in (param.opts[0], str(value))
    ]
    code = _supervise([sys.executable, "-m", "flows.serve", *arguments])
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)  # nothing left to clean up here; skipping interpreter teardown keeps the stop prompt


class _Stop(Exception):
    """Raised by the signal handler to break out of waiting for the child."""


def _supervise(command: list[str]) -> int:
    """Run the Prefect side in a child process group until it ends or a signal asks to stop (see the
    module docstring); returns the exit status: the child's, or 0 when stopped by a signal."""

    def stop(signum, frame) -> None:
        raise _Stop(signal.Signals(signum).name)

    for each in (signal.SIGINT, signal.SIGTERM):
        signal.signal(each, stop)
    child = None
    try:
        # The child starts with Ctrl-C ignored and takes it from when it can stop quietly (in
        # `main`): one landing while it still imports would print a traceback. Until then a stop
        # is the SIGKILL after STOP_SECONDS.
        child = subprocess.Popen(command, env={**os.environ, _CHILD: "1"}, start_new_session=True,
                                 preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN))
        _say(f"starting Prefect (process {child.pid})")
        return child.wait()
    except _Stop as received:
        for each in (signal.SIGINT, signal.SIGTERM):
            signal.signal(each, signal.SIG_IGN)
        _say(f"stopping ({received})")
        if child is not None:
            _stop_child(child)
        _say("stopped")
        return 0


def _stop_child(child: subprocess.Popen) -> None:
    """Ctrl-C for Prefect's runner (it pauses the deployments and ends its flow runs), then, after
    STOP_SECONDS at most, SIGKILL for whatever of its process group is left."""
    try:
        child.send_signal(signal.SIGINT)
        child.wait(timeout=STOP_SECONDS)
    except subprocess.TimeoutExpired:
        pass
    try:
        os.killpg(child.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    child.wait()


def _without_event_loop_finalizers(report):
    """`sys.unraisablehook` for the child: reports as `report` does, except an asyncio event loop's
    finalizer failing. Ctrl-C can land while Prefect builds an event loop, and the half-built loop's
    `__del__` then fails when collected ("Exception ignored in: BaseEventLoop.__del__"): noise
    about a loop that never ran, printed as a traceback in the middle of an orderly stop."""

    def hook(unraisable) -> None:
        if getattr(unraisable.object, "__qualname__", "").endswith("EventLoop.__del__"):
            return
        report(unraisable)

    return hook


def _say(what: str) -> None:
    print(f"graphmem serve: {what}", file=sys.stderr, flush=True)


def _serve(
    inbox: Path | None, pattern: str | None, interval: int | None, cron: str | None, consolidate_cron: str | None,
    group_id: str | None, store: str | None, memory_path: Path | None, ledger_path: Path | None, name: str,
    limit: int | None,
) -> None:
    """Serve the deployments from this process (the child) until interrupted."""
    if interval and cron:
        raise click.UsageError("give --interval or --cron, not both")
    if (interval or cron) and inbox is None:
        raise click.UsageError("--interval and --cron schedule the inbox: give --inbox too")
    from prefect import serve
    from prefect.client.schemas.objects import ConcurrencyLimitConfig, ConcurrencyLimitStrategy
    from prefect.settings import PREFECT_API_URL
    from prefect.types.entrypoint import EntrypointType

    from flows.consolidate import consolidate
    from flows.ingest import ingest
    from flows.maintenance import forget_group, rebuild_index

    if not PREFECT_API_URL.value():
        raise click.ClickException(
            "schedules need a Prefect server: start one (`prefect server start`) and point PREFECT_API_URL at it, "
            "e.g. `prefect config set PREFECT_API_URL=http://127.0.0.1:4200/api`"
        )
    schedule = {}
    if inbox is not None:
        schedule = {"cron": cron} if cron else {"interval": interval or INGEST_INTERVAL_SECONDS}
    source, memory_path, ledger_path = (str(p.absolute()) if p else None for p in (inbox, memory_path, ledger_path))
    memory = _given(store=store, memory_path=memory_path)
    by_module = {"entrypoint_type": EntrypointType.MODULE_PATH}  # importable wherever graphmem is installed
    one_at_a_time = ConcurrencyLimitConfig(limit=1, collision_strategy=ConcurrencyLimitStrategy.CANCEL_NEW)
    deployments = [
        ingest.to_deployment(
            name, **schedule, concurrency_limit=one_at_a_time, **by_module,
            parameters=_given(source=source, pattern=pattern, group_id=group_id, ledger_path=ledger_path, **memory),
        ),
        consolidate.to_deployment(
            name, **_given(cron=consolidate_cron), parameters=_given(group_id=group_id, **memory), **by_module
        ),
        forget_group.to_deployment(name, parameters=_given(ledger_path=ledger_path, **memory), **by_module),
        rebuild_index.to_deployment(name, parameters=_given(group_id=group_id, **memory), **by_module),
    ]
    _say(f"{READY_LINE} {len(deployments)} deployments named {name!r}")
    serve(*deployments, limit=limit)


def _valid_group(value: str | None) -> str | None:
    """The --group value if it is a valid group id (graphmem.models.check_group_id), else a usage error."""
    from graphmem.errors import GroupIdError
    from graphmem.models import check_group_id

    try:
        return None if value is None else check_group_id(value)
    except GroupIdError as error:
        raise click.BadParameter(str(error), param_hint="--group") from None


def _given(**values) -> dict:
    """The keyword arguments that have a value (not None)."""
    return {key: value for key, value in values.items() if value is not None}


if __name__ == "__main__":
    main()
