"""Seed the standard test world into a fresh SQLite database, then serve Anju on it.

Run by the e2e fixtures in a subprocess: ``python tests/e2e/serve_world.py DATA_DIR PORT WORLD_JSON``.
The world's ids are written to WORLD_JSON before the server starts listening.

Options by environment (``tests.live_server.serve_world`` sets them): ``ANJU_TEST_DATABASE_URL``
serves a server database instead of SQLite, ``ANJU_TEST_WORLD_HOUSEHOLDS`` the number of
households (6), ``ANJU_TEST_SEED`` = ``module:function`` called as ``function(db, world)`` after the
world is built, whose dict is added to the world's ids under ``seed``.
"""

from __future__ import annotations

import dataclasses
import importlib
import json
import os
import sys
from pathlib import Path


def main() -> None:
    data_dir, port, world_file = sys.argv[1], int(sys.argv[2]), Path(sys.argv[3])
    os.environ["ANJU_DATA_DIR"] = data_dir
    os.environ["ANJU_ENV"] = "test"
    os.environ.pop("ANJU_DATABASE_URL", None)
    if os.environ.get("ANJU_TEST_DATABASE_URL"):
        os.environ["ANJU_DATABASE_URL"] = os.environ["ANJU_TEST_DATABASE_URL"]
    Path(data_dir).mkdir(parents=True, exist_ok=True)

    import uvicorn

    from anju.config import get_settings
    from anju.db import migrate
    from anju.db.session import unit_of_work
    from tests.factories import build_world

    migrate.upgrade(get_settings().effective_database_url)
    with unit_of_work() as db:
        world = build_world(db, households=int(os.environ.get("ANJU_TEST_WORLD_HOUSEHOLDS", "6")))
    ids = dataclasses.asdict(world)
    if os.environ.get("ANJU_TEST_SEED"):
        module, function = os.environ["ANJU_TEST_SEED"].split(":")
        with unit_of_work() as db:
            ids["seed"] = getattr(importlib.import_module(module), function)(db, world)
    world_file.write_text(json.dumps(ids, ensure_ascii=False), encoding="utf-8")
    # Access log on: the session-end scan (tests/pii_scan.py) reads it for identity numbers in URLs.
    uvicorn.run("anju.main:create_app", factory=True, host="127.0.0.1", port=port, log_level="info")


if __name__ == "__main__":
    main()
