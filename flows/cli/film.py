"""`docfilm storyboard`: the film's plan."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from .application import EXIT_INPUT, _film_file, app, err, out

storyboard_app = typer.Typer(help="The film's plan.", no_args_is_help=True)
app.add_typer(storyboard_app, name="storyboard")

# ---------------------------------------------------------------- storyboard
@storyboard_app.command("check")
def storyboard_check(
    film: Annotated[Path | None, typer.Argument(help="Storyboard YAML (default: the bundled film).")] = None,
) -> None:
    """Validate a storyboard; every problem as FILE:LINE:COL: field: message (exit 2 when any)."""
    from storyboard.loader import check_film

    path = _film_file(film)
    problems = check_film(path)
    for p in problems:
        out.print(p.format(), markup=False, soft_wrap=True)
    if problems:
        err.print(f"{len(problems)} problem(s) in {path}")
        raise typer.Exit(EXIT_INPUT)
    from figures.check import check_film_figures

    # Figures that are not sourced are warnings here (`docfilm facts check` fails on them).
    warnings = check_film_figures(path).not_sourced
    for figure in warnings:
        out.print(f"{figure.format()} (warning)", markup=False, soft_wrap=True)
    if warnings:
        err.print(f"{path}: ok, {len(warnings)} warning(s): figure(s) not sourced", soft_wrap=True)
    else:
        err.print(f"{path}: ok")
