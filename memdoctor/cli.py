"""The memdoctor command line: one thin module per subcommand under memdoctor/commands/."""

from __future__ import annotations

from typing import Annotated

import typer

from memdoctor import __version__
from memdoctor.commands import analyze, run, watch
from memdoctor.commands.common import State

app = typer.Typer(
    name="memdoctor",
    help="Measure memory growth of processes, classify leaks, and say what to cap.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    rich_markup_mode=None,
)

# `run` takes the target's own options after `--`: keep them away from memdoctor's parser.
_PASSTHROUGH = {"allow_extra_args": True, "ignore_unknown_options": False}

app.command("run", help=run.HELP, context_settings=_PASSTHROUGH)(run.run_command)
app.command("watch", help=watch.HELP)(watch.watch_command)
app.command("analyze", help=analyze.HELP)(analyze.analyze_command)


def _version(value: bool) -> None:
    if value:
        print(f"memdoctor {__version__}")
        raise typer.Exit(0)


@app.callback()
def main_options(
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks instead of one-line errors.")] = False,
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                          help="Print the version and exit.")] = False,
) -> None:
    State.debug = debug


def main() -> None:
    app()


if __name__ == "__main__":
    main()
