"""``anju dispatch`` sub-commands."""

from __future__ import annotations

import typer

app = typer.Typer(help="每日调度通报", no_args_is_help=True)
