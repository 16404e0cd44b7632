"""A ledger writer run as a separate process by the reliability tests.

``python -m tests.ledger.writer URL TAG COUNT BATCH`` appends COUNT entries tagged TAG in
batches of BATCH (one transaction each) and prints ``ack <first> <last>`` after every commit,
so that a parent can tell which entries were acknowledged before it kills the process.
"""

from __future__ import annotations

import sys

from agritrace.db import make_engine, make_sessionmaker
from agritrace.ledger import store
from agritrace.ledger.store import NewEntry


def main(url: str, tag: str, count: int, batch: int) -> None:
    engine = make_engine(url)
    sessions = make_sessionmaker(engine)
    n = 0
    while n < count:
        size = min(batch, count - n)
        with sessions() as session:
            store.append(
                session,
                [NewEntry(body={"type": "test", "tag": tag, "n": i}) for i in range(n, n + size)],
            )
            session.commit()
        print(f"ack {n} {n + size - 1}", flush=True)
        n += size
    engine.dispose()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
