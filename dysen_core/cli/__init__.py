"""The ``dysen`` command: one Typer app; each sub-command lives in a module of this package.

User mistakes (DysenError, pydantic ValidationError, usage errors) print one ``Error: …`` line, with one
``field.path: message`` line per validation error, and exit 2; anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import sys

import typer
from pydantic import ValidationError

from ..errors import DysenError
from ..io import validation_lines
from . import ablate_cmd, config_cmd, data, eval_cmd, generate_cmd, graph_cmds, icl_cmd, plan_cmd, planner_cmd, train_cmd

app = typer.Typer(
    name="dysen",
    help="Dynamics-aware text-to-video diffusion: plan actions with an LLM, build dynamic scene graphs, render.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,  # a traceback must never print local variables (keys live there)
)
app.callback(invoke_without_command=True)(graph_cmds.root)
app.command("plugins")(graph_cmds.plugins)
app.command("schema")(graph_cmds.schema)
app.command("dsg")(graph_cmds.dsg)
app.command("plan")(plan_cmd.plan)
app.command("generate")(generate_cmd.generate)
app.command("train")(train_cmd.train)
app.command("eval")(eval_cmd.evaluate)
app.command("ablate")(ablate_cmd.ablate)
app.add_typer(config_cmd.app, name="config")
app.add_typer(data.app, name="data")
app.add_typer(icl_cmd.app, name="icl")
app.add_typer(planner_cmd.app, name="planner")


def run(argv: list[str] | None = None) -> int:
    """Run the CLI on ``argv`` and return the exit code (tests call this; ``main`` exits with it)."""
    try:
        app(args=argv, prog_name="dysen")  # standalone: usage errors print themselves and exit 2
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else int(exc.code is not None)
    except DysenError as exc:
        print(f"Error: {exc}", file=sys.stderr)
        return 2
    except ValidationError as exc:
        print(f"Error: invalid {exc.title}:\n{validation_lines(exc)}", file=sys.stderr)
        return 2
    return 0


def main() -> None:
    sys.exit(run(sys.argv[1:]))
