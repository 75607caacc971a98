"""Command-line interface: ``linkage <command>``.

Every command turns a :class:`~linkage.errors.LinkageError` into a one-paragraph
message and exit code 2; ``--debug`` re-raises so the traceback is visible.
"""

from __future__ import annotations

import argparse
import os
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
    from .errors import ParamsError
    from .params import load_params
    from .params.userpath import check_user_paths

    params = load_params(args.params)
    problems = check_user_paths(params)  # the paths it names, as the params stage checks them
    if problems:
        raise ParamsError(f"{args.params}: {len(problems)} invalid parameter(s)\n" + "\n".join(problems))
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
    parser.add_argument("--mapping", help="YAML mapping for a researcher extract (format: docs/mappings.md)")
    parser.add_argument("--mappings-dir", help="a folder of your own mappings, tried before the packaged ones "
                        "(default: data.mappings_dir of --params, if set)")
    parser.add_argument("--measures", help="your own measures YAML (default: data.measures_file of --params, if set)")
    parser.add_argument("--ods-dir", help="folder holding the ODS etr.csv, to match a name-keyed extract to ODS codes")
    parser.add_argument("--out", help="write the tidy table here (.csv or .parquet); default: print CSV to stdout")
    parser.add_argument("--quarantine", help="also write quarantined cells (with reasons) to this CSV")
    parser.add_argument("--names-audit", help="also write the name-match audit (name-keyed extracts) to this CSV")
    _params_arg(parser)


def _project_files(args: argparse.Namespace) -> tuple[str | None, str | None]:
    """``(mappings_dir, measures_file)``: the flags, else those of ``--params`` when that file exists."""
    mdir, measures = args.mappings_dir, args.measures
    if (mdir is None or measures is None) and Path(args.params).is_file():
        from .params import read_raw, validate_params

        data = validate_params({"data": read_raw(args.params).get("data") or {}}, source=str(args.params)).data
        mdir = mdir if mdir is not None else data.project_mappings()
        measures = measures if measures is not None else data.project_measures()
    return mdir, measures


def quarantine_summary(quarantine, names=None) -> list[str]:
    """Lines counting quarantined cells by reason (and name matches by status), for ``linkage read``."""
    lines = []
    if len(quarantine):
        reasons = quarantine["reason"].astype(str).str.split(":").str[0].value_counts()
        lines.append("quarantined: " + ", ".join(f"{k} {v:,}" for k, v in reasons.items()))
        for reason in ("missing_column", "name_unmatched", "name_ambiguous"):
            for text in quarantine.loc[quarantine["reason"].astype(str).str.startswith(reason), "reason"].head(3):
                lines.append(f"  {text}")
    if names is not None and len(names):
        lines.append("name matches: " + ", ".join(f"{k} {v:,}" for k, v in names["status"].value_counts().items()))
    return lines


@command("read", "read one published file into the tidy contract (org_code, year, measure, value, base_n, source_file, source_code), values in the pipeline's canonical units")(_read_args)
def _read(args: argparse.Namespace) -> int:
    from .catalogue import harmonise, load_catalogue
    from .contract import TIDY_COLUMNS
    from .files import write_csv
    from .readers import read_file

    mdir, measures = _project_files(args)
    cat = load_catalogue(measures_file=measures)
    result = read_file(args.file, mapping=args.mapping, mapping_dir=mdir, catalogue=cat, names=args.ods_dir)
    # values in the pipeline's canonical units (what ingest stores: 45.65 percent, not the published 0.4565)
    canonical = harmonise(result.tidy, cat) if len(result.tidy) else result.tidy.reindex(columns=[*TIDY_COLUMNS, "scale"])
    tidy = canonical[TIDY_COLUMNS]
    if args.out:
        out = Path(args.out)
        out.parent.mkdir(parents=True, exist_ok=True)
        if out.suffix == ".parquet":
            tidy.to_parquet(out, index=False)
        else:
            write_csv(tidy, out)
    else:
        write_csv(tidy, sys.stdout)
    print(
        f"{args.file}: layout {result.layout}; {len(tidy):,} values, "
        f"{tidy['org_code'].nunique():,} organisations, years {sorted(tidy['year'].dropna().unique().tolist())}; "
        f"{len(result.quarantine):,} cells quarantined" + (f" -> {args.out}" if args.out else ""),
        file=sys.stderr,
    )
    units = ", ".join(f"{m} {u}" for m, u in canonical.drop_duplicates("measure")[["measure", "scale"]].itertuples(index=False))
    print(f"values are in the pipeline's canonical units (as stored by ingest): {units or 'none'}", file=sys.stderr)
    for line in quarantine_summary(result.quarantine, result.names):
        print(line, file=sys.stderr)
    for item in getattr(result, "unrecognised", None) or []:  # files no reader or mapping recognised
        print(f"not recognised: {item.get('file')}: {item.get('reason')}", file=sys.stderr)
    if args.quarantine:
        write_csv(result.quarantine, args.quarantine)
    if args.names_audit:
        write_csv(result.names, args.names_audit)
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
    from .multiverse._io import load_merged, read_panel, summary_line, write_outputs
    from .params import load_params
    from .stages.multiverse import directions

    params = load_params(args.params).multiverse
    panel = read_panel(args.panel)
    start = time.perf_counter()
    run = run_multiverse(panel, params, load_merged(args.panel, params.panel_long), directions())
    write_outputs(run, args.out, args.bootstrap_out, args.joint_out)
    print(f"{args.panel}: {summary_line(run, params.alpha)} ({time.perf_counter() - start:.2f} s) -> {args.out}",
          file=sys.stderr)
    return 0


# --------------------------------------------------------------------------- pipeline
def _stage_args(parser: argparse.ArgumentParser) -> None:
    from .paths import STAGES

    parser.add_argument("name", choices=list(STAGES), help="the stage to run (as in dvc.yaml)")
    _params_arg(parser)


@command("stage", "run one pipeline stage (the command of every stage in dvc.yaml): validate, execute, render")(_stage_args)
def _stage(args: argparse.Namespace) -> int:
    from .runner import run_stage

    out = run_stage(args.name, args.params)
    if args.name == "acquire":
        size = sum(f["bytes"] for f in out["files"]) / 1e6
        print(f"acquire: source={out['source']}: {len(out['files'])} files ({size:.1f} MB)")
    if os.environ.get("DVC_STAGE") == args.name:
        _end_stage_process()
    return 0


def _end_stage_process() -> None:
    """End a finished stage's process under DVC now, without the interpreter's teardown.

    Every file the stage wrote is closed and its kernel is stopped; what is left is freeing a
    few thousand modules (pandas, papermill, nbconvert, ...), about a quarter of a second per
    stage that DVC waits for. Logs and the standard streams are flushed first.
    """
    import logging

    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


def _demo_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("out", help="folder to write the synthetic raw files into")
    parser.add_argument("--seed", type=int, help="random seed (default: params data.demo.seed)")
    _params_arg(parser)


@command("demo", "write the synthetic demo raw files (publishers' layouts) into a folder")(_demo_args)
def _demo(args: argparse.Namespace) -> int:
    import json

    from .demo import write_demo_files
    from .params import Params, load_params

    params = load_params(args.params) if Path(args.params).exists() else Params()
    spec = params.data.demo
    if args.seed is not None:
        spec = type(spec).model_validate({**spec.model_dump(), "seed": args.seed})
    manifest = write_demo_files(args.out, spec)
    print(json.dumps({"out": args.out, "files": len(manifest["files"]), "truth": manifest["truth"]}, indent=2))
    return 0


@command("setup-kernel", "register this environment as the Jupyter kernel 'linkage' used by the pipeline")(_no_args)
def _setup_kernel(args: argparse.Namespace) -> int:
    import subprocess

    from .runner import KERNEL_NAME

    subprocess.run(
        [sys.executable, "-m", "ipykernel", "install", "--sys-prefix", "--name", KERNEL_NAME,
         "--display-name", "Python (linkage workbench)"],
        check=True,
    )
    return 0


def _download_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--sources", default=None, help="sources YAML (default: the shipped catalogue/sources.yaml)")
    parser.add_argument("--dest", default="data/downloads", help="folder to download into (default: %(default)s)")
    parser.add_argument("--timeout", type=float, default=900.0, help="most seconds per file in all (default: %(default)s)")
    parser.add_argument("--stall", type=float, default=30.0, help="most seconds without a byte, and to connect (default: %(default)s)")
    parser.add_argument("--base-url", default=None, help="fetch <base-url>/<dest> instead of each file's url (mirror)")
    parser.add_argument("--only", nargs="*", default=None, help="source ids to fetch (default: all)")


@command("download", "download the official published files and verify their sha256")(_download_args)
def _download(args: argparse.Namespace) -> int:
    from .download import download_sources

    paths = download_sources(args.sources, args.dest, timeout=args.timeout, stall=args.stall, base_url=args.base_url, only=args.only)
    for p in paths:
        print(p)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="linkage",
        description="Staff-patient experience linkage workbench (NHS Staff Survey x CQC patient experience).",
    )
    parser.add_argument("--debug", action="store_true", help="show full tracebacks on errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, (help_, configure, run) in sorted(COMMANDS.items()):
        p = sub.add_parser(name, help=help_, description=help_)
        configure(p)
        p.set_defaults(_run=run)
    return parser


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
    sys.exit(main())
