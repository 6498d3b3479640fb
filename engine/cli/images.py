"""``drover images build``: Drover's own images, the worker agent and the facade."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from engine.cli.console import abort, console, err_console
from engine.cli.options import DroverTyper
from engine.errors import DroverError

__all__ = ["images_app"]

images_app = DroverTyper(
    help="Drover's container images: drover-agent (worker pods) and drover (the facade).",
    no_args_is_help=True,
)


@images_app.command("build")
def build_command(
    only: Annotated[
        str | None,
        typer.Option(help="Build one image only: agent or facade."),
    ] = None,
    tag: Annotated[
        str | None,
        typer.Option(help="Image tag (default: the installed Drover version, as project.image)."),
    ] = None,
    base_image: Annotated[
        str | None,
        typer.Option(
            help="Base image of both (default: python:3.12-slim for the agent, "
            "python:<this Python>-slim for the facade). A Debian base gets Python and git "
            "from apt."
        ),
    ] = None,
    source: Annotated[
        Path | None,
        typer.Option(help="A Drover checkout (default: the one this Drover is installed from)."),
    ] = None,
    docker: Annotated[str, typer.Option(help="The docker client to run.")] = "docker",
) -> None:
    """Build drover-agent:<tag> and drover:<tag> with docker, showing every step's output."""
    from engine.image_build import IMAGE_KINDS, build_images, find_source

    if only is not None and only not in IMAGE_KINDS:
        abort(f"--only: {only!r} is not an image; use one of: {', '.join(IMAGE_KINDS)}", 2)
    kinds = [k for k in IMAGE_KINDS if only in (None, k)]
    try:
        checkout = find_source(source)
        with tempfile.TemporaryDirectory(prefix="drover-images-") as workdir:
            built = build_images(
                checkout,
                Path(workdir),
                kinds=kinds,
                tag=tag,
                base_image=base_image,
                docker=docker,
                on_line=lambda line: err_console.print(escape(line), highlight=False),
            )
    except DroverError as error:
        abort(error)
    table = Table("image", "size", "build time")
    for image in built:
        size = f"{image.size_bytes / 1e6:.0f} MB" if image.size_bytes is not None else "?"
        table.add_row(image.image, size, f"{image.seconds:.0f} s")
    console.print(table)
