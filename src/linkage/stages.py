"""Pipeline commands registered on the ``linkage`` CLI (acquire, demo, setup-kernel)."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys

from .cli import _params_arg, command

KERNEL_NAME = "linkage"


@command("acquire", "stage acquire: fill data.raw_dir from data.source (demo | local | official)")(_params_arg)
def _acquire(args: argparse.Namespace) -> int:
    from .acquire import acquire
    from .params import load_params

    params = load_params(args.params)
    manifest = acquire(params)
    n = len(manifest["files"])
    size = sum(f["bytes"] for f in manifest["files"]) / 1e6
    print(f"acquire: source={manifest['source']}: {n} files ({size:.1f} MB) in {params.data.raw_dir}")
    return 0


def _demo_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("out", help="folder to write the synthetic raw files into")
    parser.add_argument("--seed", type=int, help="random seed (default: params data.demo.seed)")
    _params_arg(parser)


@command("demo", "write the synthetic demo raw files (publishers' layouts) into a folder")(_demo_args)
def _demo(args: argparse.Namespace) -> int:
    from pathlib import Path

    from .demo import DemoSpec, write_demo_files
    from .params import load_params, validate_params

    params = load_params(args.params) if Path(args.params).exists() else validate_params({})
    spec = DemoSpec.from_params(params.data.demo)
    if args.seed is not None:
        spec = DemoSpec(**{**spec.__dict__, "seed": args.seed})
    manifest = write_demo_files(args.out, spec)
    print(json.dumps({"out": args.out, "files": len(manifest["files"]), "truth": manifest["truth"]}, indent=2))
    return 0


@command("setup-kernel", f"register this environment as the Jupyter kernel '{KERNEL_NAME}' used by the pipeline")(
    lambda p: None
)
def _setup_kernel(args: argparse.Namespace) -> int:
    subprocess.run(
        [sys.executable, "-m", "ipykernel", "install", "--sys-prefix", "--name", KERNEL_NAME,
         "--display-name", "Python (linkage workbench)"],
        check=True,
    )
    return 0
