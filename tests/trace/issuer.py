"""A process that issues stamp batches, for the concurrent-issuance test.

``python -m tests.trace.issuer URL LOT BATCHES SIZE`` issues BATCHES batches of SIZE stamps
for LOT and prints each batch's first serial.
"""

from __future__ import annotations

import sys

from agritrace.db import make_engine, make_sessionmaker
from agritrace.trace.issuance import issue_batch

PREFIX = "HTTPS://TRACE.EXAMPLE.VN/S/"


def main(url: str, lot: str, batches: int, size: int) -> None:
    engine = make_engine(url)
    sessions = make_sessionmaker(engine)
    for _ in range(batches):
        with sessions() as session:
            batch = issue_batch(session, lot_ref=lot, count=size, key_id=0, prefix=PREFIX)
            print(batch.first_serial, flush=True)
    engine.dispose()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
