"""Seed the standard test world into a fresh SQLite database, then serve Anju on it.

Run by the e2e fixtures in a subprocess: ``python tests/e2e/serve_world.py DATA_DIR PORT WORLD_JSON``.
The world's ids are written to WORLD_JSON before the server starts listening.
"""

from __future__ import annotations

import dataclasses
import json
import os
import sys
from pathlib import Path


def main() -> None:
    data_dir, port, world_file = sys.argv[1], int(sys.argv[2]), Path(sys.argv[3])
    os.environ["ANJU_DATA_DIR"] = data_dir
    os.environ["ANJU_ENV"] = "test"
    os.environ.pop("ANJU_DATABASE_URL", None)
    Path(data_dir).mkdir(parents=True, exist_ok=True)

    import uvicorn

    from anju.config import get_settings
    from anju.db import migrate
    from anju.db.session import unit_of_work
    from tests.factories import build_world

    migrate.upgrade(get_settings().effective_database_url)
    with unit_of_work() as db:
        world = build_world(db, households=6)
    world_file.write_text(json.dumps(dataclasses.asdict(world), ensure_ascii=False), encoding="utf-8")
    # Access log on: the session-end scan (tests/pii_scan.py) reads it for identity numbers in URLs.
    uvicorn.run("anju.main:create_app", factory=True, host="127.0.0.1", port=port, log_level="info")


if __name__ == "__main__":
    main()
