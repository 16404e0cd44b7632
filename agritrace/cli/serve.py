"""``agritrace serve``: the web app on werkzeug's development server.

For development only (one process, no TLS). In production run gunicorn behind a TLS proxy:
``gunicorn -w 4 -b 127.0.0.1:8000 'agritrace.web.wsgi:app'`` with ``AGRITRACE_BEHIND_TLS=1``.
"""

from __future__ import annotations

import click
from werkzeug.serving import WSGIRequestHandler, run_simple

from agritrace.cli._common import AsciiInt, CliContext, pass_ctx
from agritrace.web import create_app


class _AnonymousLog(WSGIRequestHandler):
    """Access log lines without the client's address: agritrace stores no IP, not even in a
    development log."""

    def address_string(self) -> str:
        return "-"


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", type=AsciiInt(1, 65535), default=5000, show_default=True, help="TCP port.")
@click.option("--reload", is_flag=True, help="Restart when the code changes.")
@pass_ctx
def serve(ctx: CliContext, host: str, port: int, reload: bool) -> None:
    """Serve the public pages and JSON for development (use gunicorn in production)."""
    app = create_app(ctx.settings, engine=ctx.engine)
    click.echo(f"agritrace: serving {ctx.settings.base_url} on http://{host}:{port}/", err=True)
    run_simple(host, port, app, use_reloader=reload, threaded=True, request_handler=_AnonymousLog)


def register(group: click.Group) -> None:
    group.add_command(serve)
