"""The production entry point: ``gunicorn -w 4 -b 127.0.0.1:8000 'agritrace.web.wsgi:app'``.

Builds the app once per worker from ``AGRITRACE_*`` variables (:meth:`Settings.from_env`);
a bad setting stops the worker at start-up with the variable's name.
"""

from __future__ import annotations

from agritrace.config import Settings
from agritrace.web import create_app

__all__ = ["app"]

app = create_app(Settings.from_env())
