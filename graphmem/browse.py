"""Browse the memory in Neo4j Browser: its style, saved queries, a guide, and where to click.

`cypher/browser/` holds the style (`graphmem.grass`: a caption, colour and size per label) and
one `.cypher` file per saved query. Each query file opens with a header of `//` lines: a title,
a blank line, a description, a blank line, then one `:param name => value` line per parameter
it takes, with an example value (Browser's own command for setting a parameter).

`graphmem browse` prints where Browser is and how to load these by hand. `graphmem browse
--serve` also serves them over HTTP on localhost, which Browser accepts by default
(`browser.remote_content_hostname_allowlist` is "guides.neo4j.com,localhost"), so that
`:style <url>` loads the style and `:guide <url>` opens a guide in Browser's sidebar whose
buttons load the style and set the group, and whose code blocks put each saved query in the
editor. (`:play <url>` shows the same guide in a result frame, but there each button's result
replaces the guide.)
"""

from __future__ import annotations

import html
import json
import logging
import re
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlencode, urlsplit

from graphmem.config import Config
from graphmem.store.neo4j.cypher import CYPHER_DIR

log = logging.getLogger(__name__)

BROWSER_DIR = (CYPHER_DIR / "browser").resolve()
STYLE_FILE = BROWSER_DIR / "graphmem.grass"
GUIDE_ORDER = ("overview", "person", "timeline", "scene", "what_changed", "evidence")
"""Saved queries in the order the guide and `graphmem browse` list them; any others follow."""

DEFAULT_HTTP_PORT = 7474  # Neo4j's HTTP port, where it serves Browser at /browser/
SERVE_HOST = "localhost"  # the one local name in Browser's default remote-content allowlist

_PARAM_LINE = re.compile(r"^:param\s+(\w+)\s*=>\s*(.+)$")


@dataclass(frozen=True)
class SavedQuery:
    """A saved query file: what it shows, the parameters it needs, and its Cypher."""

    name: str  # the file name without `.cypher`
    path: Path
    title: str
    description: str
    params: dict[str, str]  # parameter name -> an example value, as a Cypher expression
    statement: str  # the Cypher, without the header

    def param_commands(self, group_id: str) -> list[str]:
        """The `:param` commands that set this query's parameters, with `group_id` filled in."""
        values = {**self.params, "group_id": json.dumps(group_id)} if "group_id" in self.params else self.params
        return [param_command(name, value) for name, value in values.items()]


def param_command(name: str, value: str) -> str:
    """Browser's command setting parameter `name` to the Cypher expression `value`."""
    return f":param {name} => {value}"


def read_saved_query(path: Path) -> SavedQuery:
    """Parse a saved query file: its `//` header (title, description, `:param` lines) and body."""
    lines = path.read_text(encoding="utf-8").splitlines()
    header = [line[2:].strip() for line in _leading_comments(lines)]
    body = "\n".join(lines[len(header):]).strip()
    params = dict(match.groups() for match in map(_PARAM_LINE.match, header) if match)
    description = " ".join(line for line in header[1:] if line and not _PARAM_LINE.match(line))
    return SavedQuery(path.stem, path, header[0] if header else path.stem, description, params, body)


def _leading_comments(lines: list[str]) -> list[str]:
    """The `//` lines a file opens with."""
    comments = []
    for line in lines:
        if not line.startswith("//"):
            break
        comments.append(line)
    return comments


def saved_queries() -> list[SavedQuery]:
    """Every saved query in `cypher/browser/`, in `GUIDE_ORDER` then by name."""
    paths = sorted(BROWSER_DIR.glob("*.cypher"), key=lambda p: (_guide_rank(p.stem), p.stem))
    return [read_saved_query(path) for path in paths]


def _guide_rank(name: str) -> int:
    return GUIDE_ORDER.index(name) if name in GUIDE_ORDER else len(GUIDE_ORDER)


# -- where Browser is --------------------------------------------------------------------------


def browser_url(neo4j_uri: str, user: str, http_port: int = DEFAULT_HTTP_PORT, guide_url: str | None = None) -> str:
    """Browser on the Neo4j server that `neo4j_uri` names, with the connect form filled in.

    With `guide_url`, Browser opens that guide in its sidebar as soon as it starts.
    """
    bolt = urlsplit(neo4j_uri)
    host = bolt.hostname or "127.0.0.1"
    http_host = f"[{host}]" if ":" in host else host
    query = {"dbms": f"{bolt.scheme}://{user}@{bolt.netloc.rsplit('@', 1)[-1]}"}
    if guide_url:
        query |= {"cmd": "guide", "arg": guide_url}
    return f"http://{http_host}:{http_port}/browser/?{urlencode(query, safe=':/@')}"


def asset_url(port: int, name: str) -> str:
    """Where an `AssetServer` on `port` serves the file `name` (e.g. "graphmem.grass")."""
    return f"http://{SERVE_HOST}:{port}/{name}"


def instructions(config: Config, http_port: int = DEFAULT_HTTP_PORT, serve_port: int | None = None) -> str:
    """What `graphmem browse` prints: Browser's URL, how to connect, load the style and the queries.

    With `serve_port`, the style and guide are being served there, and the URL opens the guide.
    """
    guide = asset_url(serve_port, "guide.html") if serve_port else None
    lines = [
        f"Neo4j Browser   {browser_url(config.neo4j_uri, config.neo4j_user, http_port, guide)}",
        f"Connect URL     {config.neo4j_uri}   user {config.neo4j_user}   password: NEO4J_PASSWORD "
        "(the local dev server's: graphmem-dev)",
    ]
    if config.store != "neo4j":
        lines.append(f"                (the configured store is {config.store}: Browser shows what "
                     "`graphmem --store neo4j ingest` wrote)")
    lines.append(f"Group           {param_command('group_id', json.dumps(config.group_id))}")
    if serve_port:
        lines += [
            "",
            f"Serving the style and a guide at http://{SERVE_HOST}:{serve_port}/ until Ctrl-C. The URL above "
            "opens the guide;",
            "connect, then click its buttons to load the style and set the group. By hand:",
            f"  :style {asset_url(serve_port, STYLE_FILE.name)}",
            f"  :guide {guide}",
        ]
    lines += [
        "",
        f"Style           {STYLE_FILE}",
        "                drag the file onto Browser, or run `:style` followed by the file's contents",
        "Saved queries   set the group (above) and the :param values in a file's header, then paste the file",
        "                into the editor and run it (or drag it onto Browser to keep it under Favorites):",
    ]
    lines += [f"  {query.name:<14}{query.title}\n  {'':<14}{query.path}" for query in saved_queries()]
    if not serve_port:
        lines += ["", "Load them in Browser with a click: graphmem browse --serve"]
    return "\n".join(lines)


# -- the guide and the server ------------------------------------------------------------------


def guide_html(queries: list[SavedQuery], style_url: str, group_id: str) -> str:
    """A Browser guide (`:guide <url>`): a first slide that loads the style and sets the group, then one
    slide per saved query with its parameters and its Cypher as click-to-edit code blocks."""
    group = param_command("group_id", json.dumps(group_id))
    slides = [
        _slide(
            "graphmem: browse the memory",
            "<p>Click, in this order:</p>"
            f"<p>{_exec_button('Connect to Neo4j', ':server connect')}</p>"
            f"<p>{_exec_button('Load the graphmem style', ':style ' + style_url)}</p>"
            f"<p>{_exec_button(f'Use group {group_id}', group)}</p>"
            "<p>Each next slide is a saved query: click a code block to put it in the editor, edit it if "
            "you like, and run it (Ctrl+Enter). Set the parameters a query names first.</p>"
            "<ul>" + "".join(f"<li>{html.escape(q.title)}</li>" for q in queries) + "</ul>",
        )
    ]
    for query in queries:
        params = [command for command in query.param_commands(group_id) if command != group]
        slides.append(
            _slide(
                query.title,
                f"<p>{html.escape(query.description)}</p>"
                + "".join(_runnable(command) for command in params)
                + _runnable(query.statement)
                + f"<p><small>{html.escape(query.path.name)}</small></p>",
            )
        )
    return "<title>graphmem</title>\n<article class=\"guide\">\n" + "\n".join(slides) + "\n</article>\n"


def _slide(title: str, body: str) -> str:
    return f"<slide class=\"row-fluid\">\n<h3>{html.escape(title)}</h3>\n{body}\n</slide>"


def _exec_button(label: str, command: str) -> str:
    """A button that runs a Browser command (`:style ...`, `:param ...`) when clicked."""
    command = html.escape(command.removeprefix(":"))
    return f"<button class=\"graphmem-exec\" data-exec=\"{command}\">{html.escape(label)}</button>"


def _runnable(code: str) -> str:
    """A code block that Browser copies into its editor when clicked."""
    return f"<pre class=\"code runnable\">{html.escape(code)}</pre>"


def _served_files() -> set[str]:
    """The files of `cypher/browser/` served as they are: the style and the saved queries."""
    return {STYLE_FILE.name} | {query.path.name for query in saved_queries()}


class _AssetHandler(BaseHTTPRequestHandler):
    """Serves the style, the guide and the saved query files to Browser (a page on another origin)."""

    server: AssetServer

    def do_OPTIONS(self) -> None:  # the CORS preflight of Browser's fetches
        self._reply(HTTPStatus.NO_CONTENT, b"", "text/plain")

    def do_GET(self) -> None:
        name = self.path.split("?", 1)[0].lstrip("/")
        if name == "guide.html":
            body = guide_html(saved_queries(), asset_url(self.server.port, STYLE_FILE.name), self.server.group_id)
            self._reply(HTTPStatus.OK, body.encode(), "text/html; charset=utf-8")
        elif name in _served_files():
            self._reply(HTTPStatus.OK, (BROWSER_DIR / name).read_bytes(), "text/plain; charset=utf-8")
        else:
            self._reply(HTTPStatus.NOT_FOUND, b"not found\n", "text/plain")

    def _reply(self, status: HTTPStatus, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Access-Control-Allow-Origin", "*")
        self.send_header("Access-Control-Allow-Methods", "GET, OPTIONS")
        # Browser's fetches carry no-cache and tracing headers (pragma, cache-control, sentry-trace, ...)
        self.send_header("Access-Control-Allow-Headers", self.headers.get("Access-Control-Request-Headers", "*"))
        self.send_header("Cache-Control", "no-store")
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args) -> None:
        log.debug("browse server: " + format, *args)


class AssetServer(ThreadingHTTPServer):
    """An HTTP server on 127.0.0.1 serving the style, the guide (for `group_id`) and the queries."""

    daemon_threads = True

    def __init__(self, port: int, group_id: str):
        self.group_id = group_id
        super().__init__(("127.0.0.1", port), _AssetHandler)

    @property
    def port(self) -> int:
        """The port it listens on (the one the OS chose when asked for port 0)."""
        return self.server_address[1]
