"""The memdoctor command line: one thin module per subcommand under memdoctor/commands/.

Each command module exposes `COMMAND = CommandSpec(...)`; they are found here by listing the
package, so adding a command never means editing this file. Command modules import only typer
and light helpers at module level (their heavy imports wait until they run), so start-up stays
fast for every command.
"""

from __future__ import annotations

import importlib
import pkgutil
from typing import Annotated

import typer

from memdoctor import __version__, commands
from memdoctor.commands.common import CommandSpec, State

app = typer.Typer(
    name="memdoctor",
    help="Measure memory growth of processes, classify leaks, and say what to cap.",
    epilog="""Examples:

\b
  memdoctor doctor -- python3 app.py          # watch, and on a leak: snapshots, ranked report
  memdoctor run -o app.jsonl -- node server.js
  memdoctor watch 4242 --duration 10m -o app.jsonl
  memdoctor analyze app.jsonl                 # leak / no-leak / not yet knowable, growth, time to limit
  memdoctor gate --duration 2m -- python3 service.py   # CI: exit 1 on a leak
  memdoctor snapshot 4242 -o a.snap            # a heap snapshot of a running process, no restart

Each command's --help has its own examples; every command has --json.""",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    rich_markup_mode=None,
)


def _command_specs() -> list[CommandSpec]:
    specs = []
    for info in pkgutil.iter_modules(commands.__path__):
        module = importlib.import_module(f"{commands.__name__}.{info.name}")
        spec = getattr(module, "COMMAND", None)
        if isinstance(spec, CommandSpec):
            specs.append(spec)
    return sorted(specs, key=lambda s: (s.order, s.name))


for _spec in _command_specs():
    app.command(_spec.name, help=_spec.help, context_settings=_spec.context_settings or None)(_spec.function)


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
    app(prog_name="memdoctor")


if __name__ == "__main__":
    main()
