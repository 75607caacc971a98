"""Command-line interface: ``linkage <command>``.

Every command turns a :class:`~linkage.errors.LinkageError` into a one-paragraph
message and exit code 2; ``--debug`` re-raises so the traceback is visible.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from .errors import LinkageError

COMMANDS: dict[str, tuple[str, Callable[[argparse.ArgumentParser], None], Callable[[argparse.Namespace], int]]] = {}


def command(name: str, help: str):
    """Register ``func`` (taking parsed args, returning an exit code) as a subcommand."""

    def wrap(configure: Callable[[argparse.ArgumentParser], None]):
        def register(run: Callable[[argparse.Namespace], int]):
            COMMANDS[name] = (help, configure, run)
            return run

        return register

    return wrap


def _no_args(parser: argparse.ArgumentParser) -> None:
    return None


def _params_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--params", default="params.yaml", help="path to params.yaml (default: %(default)s)")


# --------------------------------------------------------------------------- params
@command("validate-params", "validate params.yaml against the schema and exit non-zero naming bad keys")(_params_arg)
def _validate_params(args: argparse.Namespace) -> int:
    from .params import load_params

    load_params(args.params)
    print(f"{args.params}: OK")
    return 0


@command("params-doc", "print every parameter with its type, default and description (Markdown)")(_no_args)
def _params_doc(args: argparse.Namespace) -> int:
    from .params import describe

    print("| key | type | default | description |\n|---|---|---|---|")
    for key, typ, default, desc in describe():
        print(f"| `{key}` | {typ} | {default if len(default) < 60 else default[:57] + '...'} | {desc} |")
    return 0


# --------------------------------------------------------------------------- read
def _read_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", help="a Staff Survey workbook, CQC benchmark file, or researcher extract (CSV/XLSX)")
    parser.add_argument("--mapping", help="YAML mapping for a researcher extract (see src/linkage/mappings/)")
    parser.add_argument("--out", help="write the tidy table here (.csv or .parquet); default: print CSV to stdout")
    parser.add_argument("--quarantine", help="also write quarantined cells (with reasons) to this CSV")


@command("read", "read one published file into the tidy contract (org_code, year, measure, value, base_n, source_file, source_code)")(_read_args)
def _read(args: argparse.Namespace) -> int:
    from .contract import TIDY_COLUMNS
    from .readers import read_file

    result = read_file(args.file, mapping=args.mapping)
    tidy = result.tidy[TIDY_COLUMNS]
    if args.out:
        out = Path(args.out)
        out.parent.mkdir(parents=True, exist_ok=True)
        if out.suffix == ".parquet":
            tidy.to_parquet(out, index=False)
        else:
            tidy.to_csv(out, index=False)
        print(
            f"{args.file}: layout {result.layout}; {len(tidy):,} values, "
            f"{tidy['org_code'].nunique():,} organisations, years {sorted(tidy['year'].dropna().unique().tolist())}; "
            f"{len(result.quarantine):,} cells quarantined -> {out}",
            file=sys.stderr,
        )
    else:
        tidy.to_csv(sys.stdout, index=False)
    if args.quarantine:
        result.quarantine.to_csv(args.quarantine, index=False)
    return 0


# --------------------------------------------------------------------------- multiverse
def _multiverse_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("panel", help="linked panel file (data/processed/panel.parquet, or .csv)")
    parser.add_argument("--out", required=True, help="specification table to write (.parquet or .csv)")
    parser.add_argument("--params", default="params.yaml", help="params file whose multiverse section is used (default: %(default)s)")
    parser.add_argument("--bootstrap-out", help="also write the headline wild cluster bootstrap table (CSV)")
    parser.add_argument("--joint-out", help="also write the joint test of the curve (JSON)")


@command("multiverse", "fit the specification curve of the params multiverse section on a linked panel file")(_multiverse_args)
def _multiverse(args: argparse.Namespace) -> int:
    import time

    from .multiverse import run_multiverse
    from .multiverse._io import (
        higher_is_better,
        load_merged,
        read_panel,
        summary_line,
        write_outputs,
    )
    from .params import load_params

    params = load_params(args.params).multiverse
    panel = read_panel(args.panel)
    start = time.perf_counter()
    run = run_multiverse(panel, params, load_merged(args.panel, params.panel_long), higher_is_better())
    write_outputs(run, args.out, args.bootstrap_out, args.joint_out)
    print(f"{args.panel}: {summary_line(run, params.alpha)} ({time.perf_counter() - start:.2f} s) -> {args.out}",
          file=sys.stderr)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="linkage",
        description="Staff-patient experience linkage workbench (NHS Staff Survey x CQC patient experience).",
    )
    parser.add_argument("--debug", action="store_true", help="show full tracebacks on errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    _load_plugins()
    for name, (help_, configure, run) in sorted(COMMANDS.items()):
        p = sub.add_parser(name, help=help_, description=help_)
        configure(p)
        p.set_defaults(_run=run)
    return parser


def _load_plugins() -> None:
    """Import modules that register further commands (pipeline stages, downloads)."""
    import importlib

    for mod in ("linkage.stages", "linkage.download"):
        try:
            importlib.import_module(mod)
        except ModuleNotFoundError as err:  # module not written yet / optional
            if err.name != mod:
                raise


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args._run(args) or 0)
    except LinkageError as err:
        if args.debug:
            raise
        print(f"linkage {args.command}: error: {err}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # e.g. `linkage read FILE | head`: the reader went away, not an error
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except KeyboardInterrupt:  # pragma: no cover
        return 130


if __name__ == "__main__":  # pragma: no cover
    # Run through the package module so plugin commands register in one table
    # (under ``python -m`` this file is a second module named ``__main__``).
    from linkage.cli import main as _main

    sys.exit(_main())
