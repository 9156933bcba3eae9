"""``anju project`` sub-commands."""

from __future__ import annotations

import typer

app = typer.Typer(help="征收项目、片区与宗地", no_args_is_help=True)
