"""Each stage depends on the fingerprint of the params values it reads, not on params.yaml via dvc.lock.

``.linkage/params/<stage>.json`` holds the validated values of the sections and keys the stage
declares in :data:`linkage.paths.STAGES`; it must change exactly when one of those values does.
"""

from __future__ import annotations

import json
from pathlib import Path

from linkage.fingerprint import write_param_prints
from linkage.params import load_params
from linkage.paths import STAGES, param_print

REPO = Path(__file__).resolve().parents[1]


def _load(tmp_path: Path, text: str):
    path = tmp_path / "params.yaml"
    path.write_text(text)
    return load_params(path)


def _readers(key: str) -> set[str]:
    """The stages declaring ``key`` or a section holding it (from the stage table)."""
    return {n for n, st in STAGES.items() if n != "params"
            and any(key == d or key.startswith(d + ".") for d in (st.section, *st.params))}


def _bytes(root: Path) -> dict[str, bytes]:
    return {n: (root / param_print(n)).read_bytes() for n in STAGES if n != "params"}


def test_a_changed_value_changes_exactly_the_fingerprints_of_the_stages_reading_it(tmp_path):
    base = (REPO / "params.yaml").read_text()
    assert write_param_prints(_load(tmp_path, base), tmp_path) == {}, "a first run names no change"
    before = _bytes(tmp_path)
    for key, old, new in (("model.lag", "  lag: 0\n", "  lag: 1\n"),
                          ("data.max_uncompressed_mb", "  max_uncompressed_mb: 1000.0\n", "  max_uncompressed_mb: 500.0\n")):
        assert old in base, f"params.yaml has no {old!r}"
        changed = write_param_prints(_load(tmp_path, base.replace(old, new, 1)), tmp_path)
        assert set(changed) == _readers(key) and all(keys == [key] for keys in changed.values()), changed
        now = _bytes(tmp_path)
        assert {n for n in now if now[n] != before[n]} == _readers(key)
        assert write_param_prints(_load(tmp_path, base), tmp_path) == {n: [key] for n in _readers(key)}
        assert _bytes(tmp_path) == before, "back to the same values, back to the same bytes"


def test_writing_out_a_default_changes_nothing_and_touches_no_file(tmp_path):
    write_param_prints(_load(tmp_path, "{}\n"), tmp_path)
    stamps = {n: (tmp_path / param_print(n)).stat().st_mtime_ns for n in STAGES if n != "params"}
    default_lag = load_params(tmp_path / "params.yaml").model.lag
    assert write_param_prints(_load(tmp_path, f"model:\n  lag: {default_lag}\n"), tmp_path) == {}
    assert {n: (tmp_path / param_print(n)).stat().st_mtime_ns for n in stamps} == stamps


def test_a_fingerprint_holds_the_values_the_stage_declares():
    params = load_params(REPO / "params.yaml")
    from linkage.fingerprint import params_read_by

    dump = params.model_dump(mode="json")
    for name, st in STAGES.items():
        if name == "params":
            continue
        doc = params_read_by(params, name)
        assert set(doc["params"]) == {st.section, *st.params}
        assert doc["params"][st.section] == dump[st.section]
        json.dumps(doc)  # plain JSON


def test_a_stage_reads_its_checked_section_only_for_the_very_file_the_params_stage_checked(tmp_path, monkeypatch):
    from linkage import runner

    monkeypatch.chdir(tmp_path)
    params = _load(tmp_path, (REPO / "params.yaml").read_text())
    write_param_prints(params, tmp_path)
    for st in STAGES.values():
        if st.notebook:
            assert runner.checked_section(st, "params.yaml") == getattr(params, st.section).model_dump(mode="json")
    model = STAGES["model"]
    (tmp_path / "other.yaml").write_text((tmp_path / "params.yaml").read_text())
    assert runner.checked_section(model, "other.yaml") is None, "another file: validated as usual"
    with open(tmp_path / "params.yaml", "a") as f:
        f.write("# edited after the check\n")
    assert runner.checked_section(model, "params.yaml") is None, "an edited file: validated as usual"


def test_values_that_are_not_the_files_are_never_taken_for_it(tmp_path, monkeypatch):
    from linkage import runner
    from linkage.params import Params

    monkeypatch.chdir(tmp_path)
    (tmp_path / "params.yaml").write_text((REPO / "params.yaml").read_text().replace("  lag: 0\n", "  lag: 1\n", 1))
    write_param_prints(Params(), tmp_path)  # values validated from elsewhere (the defaults), not from this file
    assert runner.checked_section(STAGES["model"], "params.yaml") is None


def _lock_on(root: Path) -> None:
    """A dvc.lock recording the params fingerprints now in ``root``, as DVC would after a run."""
    import hashlib

    stages = {n: {"cmd": f"linkage stage {n}", "deps": [
        {"path": str(param_print(n)), "md5": hashlib.md5((root / param_print(n)).read_bytes()).hexdigest()}]}  # noqa: S324
        for n in STAGES if n != "params"}
    (root / "dvc.lock").write_text(json.dumps({"schema": "2.0", "stages": stages}))


def test_changes_are_named_against_what_dvc_lock_recorded_not_the_last_run(tmp_path):
    from linkage import kernels

    base = (REPO / "params.yaml").read_text()
    lag1 = base.replace("  lag: 0\n", "  lag: 1\n", 1)
    write_param_prints(_load(tmp_path, base), tmp_path)
    _lock_on(tmp_path)  # the finished run, at lag 0
    write_param_prints(_load(tmp_path, lag1), tmp_path)  # an experiment at lag 1 ran (its lock is then put back)
    (tmp_path / "params.yaml").write_text(lag1)  # the same experiment again, from the lag-0 lock
    assert kernels.params_changed(tmp_path) == [n for n in STAGES if n in _readers("model.lag")], \
        "the guess at the params stage's start compares with the lock's values, not the last run's"
    changed = write_param_prints(_load(tmp_path, lag1), tmp_path)
    assert changed == {n: ["model.lag"] for n in _readers("model.lag")}, "why DVC re-runs them, though the last run was lag 1"
    _lock_on(tmp_path)
    assert write_param_prints(_load(tmp_path, lag1), tmp_path) == {}
    assert kernels.params_changed(tmp_path) == []


def test_a_fingerprint_whose_values_are_not_remembered_is_still_named(tmp_path):
    base = (REPO / "params.yaml").read_text()
    write_param_prints(_load(tmp_path, base), tmp_path)
    _lock_on(tmp_path)
    (tmp_path / ".linkage/params_last.json").unlink()
    changed = write_param_prints(_load(tmp_path, base.replace("  lag: 0\n", "  lag: 1\n", 1)), tmp_path)
    assert changed == {n: ["(values not remembered)"] for n in _readers("model.lag")}
