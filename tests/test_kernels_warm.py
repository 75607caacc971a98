"""Warm kernels: a stage's kernel boots while the stage before it runs, and is used only as promised.

A stand-in for DVC (a Python process without ``DVC_STAGE`` in its environment) runs stage
processes one after another with ``DVC_STAGE`` set, as DVC does; the warm kernels they leave
must be claimed once, by the right stage of the same run, and end with that run.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from test_kernels import needs_kernel

from linkage import kernels
from linkage.paths import STAGES, consumers, downstream, next_stages

STAGE = "ingest_staff"  # a notebook stage with light imports

# one "stage process": act, print one JSON line
_STAGE_CODE = textwrap.dedent("""
    import json, os, sys, time
    from pathlib import Path
    from linkage import kernels, runner
    action, name = sys.argv[1], sys.argv[2]
    out = {}
    if action == "prewarm":
        out["started"] = kernels.prewarm([name])
        pool = kernels._pool()
        deadline = time.monotonic() + 120
        while out["started"] and not list(pool.glob(f"{name}.*.ready")) and time.monotonic() < deadline:
            time.sleep(0.05)
        tokens = list(pool.glob(f"{name}.*.ready"))
        out["pid"] = int(tokens[0].read_text()) if tokens else None
        out["token"] = str(tokens[0]) if tokens else None
    elif action == "claim":
        km = kernels.claim(name)
        out["claimed"] = km is not None
        if km is not None:
            kc = km.client(); kc.start_channels(); kc.wait_for_ready(timeout=120)
            code = ("import sys, os, json; print(json.dumps([sorted(m for m in sys.modules if m.startswith('linkage.stages')),"
                    " os.environ.get('DVC_STAGE'), [n for n in dir() if not n.startswith('_')]]))")
            got = []
            kc.execute_interactive(code, timeout=60, output_hook=lambda m: got.append(m["content"].get("text", "")))
            kc.stop_channels()
            out["modules"], out["dvc_stage"], out["names"] = json.loads("".join(got))
            out["pid"] = km.provisioner.pid
            out["folder"] = str(Path(km.connection_file).parent)
            runner.stop_kernel(km)
    print(json.dumps(out), flush=True)
""")

# the stand-in for DVC: run each (action, stage[, env override]) as a stage process, in order
_DVC_CODE = textwrap.dedent("""
    import json, os, subprocess, sys
    steps = json.loads(sys.argv[1])
    results = []
    for action, name, extra in steps:
        env = {**os.environ, "DVC_STAGE": name, **extra}
        proc = subprocess.run([sys.executable, "-c", sys.argv[2], action, name], env=env, capture_output=True,
                              text=True, timeout=300)
        results.append(json.loads(proc.stdout.strip().splitlines()[-1]) if proc.returncode == 0 else
                       {"error": proc.stderr[-2000:]})
    print(json.dumps(results), flush=True)
""")


def _dvc(steps: list[tuple[str, str, dict[str, str]]], cwd: Path) -> list[dict]:
    env = {k: v for k, v in os.environ.items() if k != "DVC_STAGE"}
    env.pop("LINKAGE_PREWARM", None)
    proc = subprocess.run([sys.executable, "-c", _DVC_CODE, json.dumps(steps), _STAGE_CODE], env=env, cwd=cwd,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    results = json.loads(proc.stdout.strip().splitlines()[-1])
    assert not [r for r in results if "error" in r], results
    return results


def _gone(pid: int, within: float = 15.0) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if not kernels._alive(pid, None):
            return True
        time.sleep(0.1)
    return False


@needs_kernel
def test_a_kernel_warmed_by_one_stage_is_claimed_by_the_next_with_its_modules_loaded(tmp_path):
    warm, claim = _dvc([("prewarm", STAGE, {}), ("claim", STAGE, {})], tmp_path)
    assert warm["started"] == [STAGE] and warm["pid"]
    assert claim["claimed"] and claim["pid"] == warm["pid"]
    assert f"linkage.stages.{STAGE}" in claim["modules"], "the warm-up imported the stage module"
    assert claim["dvc_stage"] == STAGE, "the kernel has the environment of the stage it serves"
    bound = {"linkage", "pandas", "matplotlib", "IPython", "warm_kernel", "warm_up", "kernels"} & set(claim["names"])
    assert not bound and "sys" in claim["names"], "the warm-up binds no name in the notebook's namespace"
    assert _gone(claim["pid"]) and not Path(claim["folder"]).exists(), "stopping it ends it and removes its sockets"


@needs_kernel
def test_a_warm_kernel_is_claimed_once_and_only_by_its_own_stage_and_environment(tmp_path):
    results = _dvc([("prewarm", STAGE, {}), ("claim", "link", {}), ("claim", STAGE, {"LINKAGE_OTHER": "1"}),
                    ("claim", STAGE, {}), ("claim", STAGE, {})], tmp_path)
    warm, other_stage, other_env, first, second = results
    assert warm["pid"]
    assert not other_stage["claimed"], "a kernel warmed for one stage is not another stage's"
    assert not other_env["claimed"], "nor a stage's with a different environment"
    assert first["claimed"] and not second["claimed"], "claimed exactly once"
    assert _gone(warm["pid"])


@needs_kernel
def test_an_unclaimed_warm_kernel_ends_with_the_dvc_run(tmp_path):
    (warm,) = _dvc([("prewarm", STAGE, {})], tmp_path)
    assert warm["pid"], "the kernel was warming when the run ended"
    assert _gone(warm["pid"]), "nobody will claim it once the run is over: it ends itself"
    token = Path(warm["token"])
    assert not token.exists() and not kernels._folder_of(token).exists(), "its claim file and sockets are gone"


def test_nothing_is_warmed_or_claimed_outside_a_dvc_run(monkeypatch):
    monkeypatch.delenv("DVC_STAGE", raising=False)
    assert kernels.prewarm([STAGE]) == []
    assert kernels.claim(STAGE) is None


def test_warming_can_be_switched_off(monkeypatch):
    monkeypatch.setenv("DVC_STAGE", STAGE)
    monkeypatch.setenv("LINKAGE_PREWARM", "0")
    assert kernels.prewarm([STAGE]) == []


def test_the_pool_of_warm_kernels_is_private():
    pool = kernels._pool()
    assert pool is not None and pool.stat().st_mode & 0o077 == 0 and pool.stat().st_uid == os.getuid()


# ------------------------------------------------------------------------------------ which stages come next


def test_next_stages_are_the_consumers_no_other_consumer_feeds():
    for name in STAGES:
        direct, after = set(consumers(name)), next_stages(name)
        assert set(after) <= direct
        for stage in after:  # each reads something this stage writes
            written = STAGES[name].written
            assert any(d == w or w in d.parents or d in w.parents for d in STAGES[stage].deps.values() for w in written)
            assert not any(stage in downstream(other) for other in after if other != stage)
        for stage in direct - set(after):  # the rest run only after one of the next stages
            assert any(stage in downstream(first) for first in after)
    notebook = [s for s in STAGES.values() if s.notebook]
    assert all(any(n.name in next_stages(s) for s in STAGES) for n in notebook), "every notebook stage can be warmed"


def _fingerprints(tmp_path: Path, **texts: str) -> dict[str, str]:
    md5 = {}
    for name, text in texts.items():
        path = tmp_path / ".linkage" / f"{name}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        md5[name] = hashlib.md5(text.encode()).hexdigest()  # noqa: S324 - DVC's own hash
    return md5


def test_the_params_stage_predicts_the_stages_dvc_will_rerun(tmp_path):
    md5 = _fingerprints(tmp_path, **{"params/model": '{"lag": 0}', "code/model": "a", "params/report": '{"lag": 0}'})

    def entry(name: str) -> dict:
        deps = [{"path": f".linkage/{kind}/{name}.json", "md5": md5[f"{kind}/{name}"]} for kind in ("params", "code")
                if f"{kind}/{name}" in md5]
        return {"cmd": f"linkage stage {name}", "deps": [*deps, {"path": "data/processed/panel.parquet", "md5": "x"}]}

    lock = {"schema": "2.0", "stages": {n: entry(n) for n in STAGES if n != "params"}}
    (tmp_path / "dvc.lock").write_text(json.dumps(lock))
    assert kernels.predicted(tmp_path) == [], "unchanged fingerprints: nothing re-runs by itself"
    _fingerprints(tmp_path, **{"params/model": '{"lag": 1}', "params/report": '{"lag": 1}'})
    assert kernels.predicted(tmp_path) == ["model", "report"], "a changed params fingerprint re-runs its stages"
    _fingerprints(tmp_path, **{"params/model": '{"lag": 0}', "params/report": '{"lag": 0}', "code/model": "b"})
    assert kernels.predicted(tmp_path) == ["model"], "so does a changed code fingerprint"
    (tmp_path / ".linkage/code/model.json").unlink()
    assert kernels.predicted(tmp_path) == [], "a fingerprint not written yet counts as unchanged"
    del lock["stages"]["link"]
    (tmp_path / "dvc.lock").write_text(json.dumps(lock))
    assert kernels.predicted(tmp_path) == ["link"], "a stage that never ran will run"
    (tmp_path / "dvc.lock").write_text("stages: [")
    assert kernels.predicted(tmp_path) == [], "an unreadable lock file predicts nothing"


def test_the_warm_up_line_binds_nothing_and_names_its_guard():
    assert kernels.warm_code("model").startswith("__import__('linkage.kernels'")
    assert "warm_kernel('model', *('/tmp/t.ready', 1, 2))" in kernels.warm_code("model", "/tmp/t.ready", 1, 2)


def test_at_its_start_the_params_stage_guesses_from_the_params_as_written(tmp_path):
    from linkage.fingerprint import write_param_prints
    from linkage.params import load_params

    repo = Path(__file__).resolve().parents[1]
    text = (repo / "params.yaml").read_text()
    (tmp_path / "params.yaml").write_text(text)
    assert kernels.params_changed(tmp_path) == [], "no last run: no guess"
    write_param_prints(load_params(tmp_path / "params.yaml"), tmp_path)
    assert kernels.params_changed(tmp_path) == []
    (tmp_path / "params.yaml").write_text(text.replace("  lag: 0\n", "  lag: 1\n", 1))
    readers = [n for n, st in STAGES.items() if any(k == "model" or k.startswith("model.") for k in st.param_keys)]
    assert "model" in readers and kernels.params_changed(tmp_path) == readers
    (tmp_path / "params.yaml").write_text(text + "\n# a comment changes no value\n")
    assert kernels.params_changed(tmp_path) == []
