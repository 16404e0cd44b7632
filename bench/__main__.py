"""Run one benchmark suite: ``python -m bench NAME [options]`` (see SUITES)."""

from __future__ import annotations

import importlib
import sys

SUITES = ("ledger", "stamps", "events", "scan", "soak_ledger")


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in SUITES:
        print(f"usage: python -m bench {{{','.join(SUITES)}}} [options]", file=sys.stderr)
        return 2
    module = importlib.import_module(f"bench.{argv[0]}")
    result: int = module.main(argv[1:])
    return result


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
