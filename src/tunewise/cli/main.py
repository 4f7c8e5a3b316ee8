"""Entry point: registers the verbs and turns user errors into one line and exit code 2."""

from __future__ import annotations

import sys

import typer

from tunewise.cli import (
    assist_cmd,
    compare_cmd,
    continual_cmd,
    data_cmd,
    doctor_cmd,
    export_cmd,
    fewshot_cmd,
    forgetting_cmd,
    generate_cmd,
    methods_cmd,
    models_cmd,
    monitor_cmd,
    predict_cmd,
    pretrain_cmd,
    recommend_cmd,
    report_cmd,
    runs_cmd,
    serve_cmd,
    studio_cmd,
    tasks_cmd,
    train_cmd,
    tune_cmd,
)
from tunewise.errors import UserError

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    help="Fine-tune pretrained language models, evaluate them honestly, and use them.",
)


def _version(value: bool) -> None:
    if value:
        from tunewise import __version__

        print(f"tunewise {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    """Fine-tune pretrained language models, evaluate them honestly, and use them."""


app.command("train")(train_cmd.train)
app.command("pretrain")(pretrain_cmd.pretrain)
app.command("evaluate")(predict_cmd.evaluate)
app.command("predict")(predict_cmd.predict)
app.command("models")(models_cmd.models)
app.command("report")(report_cmd.report)
app.command("doctor")(doctor_cmd.doctor)
app.command("compare")(compare_cmd.compare)
app.command("methods")(methods_cmd.methods)
app.command("tasks")(tasks_cmd.tasks)
app.command("export")(export_cmd.export)
app.command("tune")(tune_cmd.tune)
app.command("forgetting")(forgetting_cmd.forgetting)
app.command("continual")(continual_cmd.continual)
app.command("generate")(generate_cmd.generate)
app.command("chat")(generate_cmd.chat)
app.command("serve")(serve_cmd.serve)
app.command("studio")(studio_cmd.studio)
app.command("curve")(fewshot_cmd.curve)
app.command("suggest")(fewshot_cmd.suggest)
app.add_typer(data_cmd.app, name="data")
app.add_typer(runs_cmd.app, name="runs")
app.add_typer(monitor_cmd.app, name="monitor")
app.add_typer(assist_cmd.app, name="assist")
app.add_typer(recommend_cmd.app, name="recommend")


def main(argv: list[str] | None = None) -> None:
    """Run the CLI; a UserError becomes ``error: <message>`` on stderr with exit code 2."""
    try:
        from tunewise.cli.dotted import expand_dotted_flags

        argv = expand_dotted_flags(sys.argv[1:] if argv is None else list(argv))
        app(args=argv, standalone_mode=False)
    except UserError as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(2)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        sys.exit(130)
    except SystemExit:
        raise
    except Exception as e:  # usage errors (unknown option, bad value): click's or typer's own
        import click

        usage_errors = [click.exceptions.ClickException]
        try:  # typer 0.29 vendors click as typer._click with its own exception classes
            from typer._click.exceptions import ClickException as TyperClickException

            usage_errors.append(TyperClickException)
        except ImportError:
            pass
        if isinstance(e, tuple(usage_errors)):
            e.show()
            sys.exit(2)
        if isinstance(e, click.exceptions.Abort) or type(e).__name__ == "Abort":
            sys.exit(130)
        raise
