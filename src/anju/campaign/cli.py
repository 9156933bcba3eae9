"""``anju campaign`` sub-commands."""

from __future__ import annotations

import typer

app = typer.Typer(help="专班、包户与攻坚进度", no_args_is_help=True)
