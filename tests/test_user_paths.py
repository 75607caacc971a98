"""Paths named in params: declared by a marker in the schema, checked by dotted key, tracked by fingerprints.

dvc.yaml templates nothing from params.yaml; the ``params`` stage refuses a missing or
wrong-kind path by its dotted key before anything is written, and writes per stage a
fingerprint of the user's files that stage reads, which the stage depends on.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from linkage.params import Params, validate_params
from linkage.params.userpath import UserPath, check_user_paths, path_fields, user_paths
from linkage.paths import STAGES, user_inputs

REPO = Path(__file__).resolve().parents[1]


def _params(**data) -> Params:
    return validate_params({"data": data}) if data else Params()


def test_every_path_like_field_is_marked():
    """A field named like a path (``*_dir``, ``*_file``, overrides, aliases) must carry the marker, so it is tracked."""
    marked = {k for k, _ in path_fields(Params)}
    from linkage.params import describe

    pathlike = {k for k, t, _, _ in describe() if t != "section" and k.endswith(("_dir", "_file", "overrides", "aliases"))}
    assert pathlike <= marked, sorted(pathlike - marked)
    assert {"data.local_dir", "data.mappings_dir", "data.measures_file", "data.registry_dir",
            "data.name_aliases", "link.overrides", "link.type_overrides"} <= marked


def test_dvc_yaml_templates_nothing_and_every_stage_depends_on_its_fingerprint():
    text = (REPO / "dvc.yaml").read_text()
    assert "${" not in text
    stages = yaml.safe_load(text)["stages"]
    assert stages["params"].get("always_changed") is True
    outs = [next(iter(o)) if isinstance(o, dict) else o for o in stages["params"]["outs"]]
    for name in STAGES:
        if name != "params":
            assert str(user_inputs(name)) in stages[name]["deps"], name
            assert str(user_inputs(name)) in outs


def test_paths_apply_by_source_and_stage():
    keys = lambda p, stage=None: {x.key for x in user_paths(p, stage)}  # noqa: E731
    demo = _params()
    assert "data.local_dir" not in keys(demo) and "data.measures_file" in keys(demo)
    local = _params(source="local", local_dir="x")
    assert "data.local_dir" in keys(local, "acquire") and "data.local_dir" not in keys(local, "link")
    assert "data.measures_file" in keys(local, "model") and "data.measures_file" not in keys(local, "acquire")
    assert "link.overrides" not in keys(demo)  # 'default': the packaged file, not a user's


@pytest.mark.parametrize(("data", "link", "key", "words"), [
    ({"source": "local", "local_dir": "nowhere"}, {}, "data.local_dir", "no such folder"),
    ({"source": "local", "local_dir": "params.yaml"}, {}, "data.local_dir", "is a file"),
    ({"mappings_dir": "nowhere"}, {}, "data.mappings_dir", "no such folder"),
    ({"mappings_dir": "params.yaml"}, {}, "data.mappings_dir", "is a file"),
    ({"mappings_dir": "/etc"}, {}, "data.mappings_dir", "not .yaml/.yml files"),
    ({"measures_file": "mappings"}, {}, "data.measures_file", "is a folder"),
    ({"source": "official", "download_dir": "params.yaml"}, {}, "data.download_dir", "is a file"),
    ({"source": "official", "download_dir": "no/such"}, {}, "data.download_dir", "no such folder"),
    ({"source": "official", "sources_file": "missing.yaml"}, {}, "data.sources_file", "no such file"),
    ({"registry_dir": "missing"}, {}, "data.registry_dir", "no such folder"),
    ({"name_aliases": "missing.csv"}, {}, "data.name_aliases", "no such file"),
    ({}, {"overrides": "missing.csv"}, "link.overrides", "no such file"),
    ({}, {"type_overrides": "mappings"}, "link.type_overrides", "is a folder"),
])
def test_bad_paths_are_refused_by_dotted_key(tmp_path, data, link, key, words):
    (tmp_path / "params.yaml").write_text("x: 1\n")
    (tmp_path / "mappings").mkdir()
    p = Params.model_validate({"data": data, "link": link})
    problems = check_user_paths(p, tmp_path)
    assert len(problems) == 1 and problems[0].startswith(f"  - {key}: ") and words in problems[0], problems


def test_absent_defaults_are_fine(tmp_path):
    assert check_user_paths(Params(), tmp_path) == []


def _stage_params(folder: Path) -> subprocess.CompletedProcess:
    return subprocess.run([str(Path(sys.executable).parent / "linkage"), "stage", "params"], cwd=folder,
                          capture_output=True, text=True, timeout=120)


def test_params_stage_refuses_before_writing_anything(tmp_path):
    raw = yaml.safe_load((REPO / "params.yaml").read_text())
    raw["data"].update({"source": "local", "local_dir": "no/such/folder"})
    raw["link"]["overrides"] = "params.yaml"
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(raw))
    out = _stage_params(tmp_path)
    assert out.returncode != 0
    text = out.stdout + out.stderr
    assert "invalid parameter" in text and "data.local_dir: no such folder" in text, text
    assert "link.overrides: expected a .csv file" in text
    assert "Traceback" not in text
    assert not (tmp_path / ".linkage").exists()


def test_fingerprints_track_exactly_the_files_each_stage_reads(tmp_path):
    raw = yaml.safe_load((REPO / "params.yaml").read_text())
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "a.csv").write_text("x\n1\n")
    (tmp_path / "types.csv").write_text("trust_code,trust_type,note,source\nRQ1,acute,n,s\n")
    raw["data"].update({"source": "local", "local_dir": "mine"})
    raw["data"]["measures_file"] = "measures.yaml"
    raw["link"]["type_overrides"] = "types.csv"
    (tmp_path / "measures.yaml").write_text((REPO / "measures.yaml").read_text())
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(raw))

    def run() -> dict[str, bytes]:
        out = _stage_params(tmp_path)
        assert out.returncode == 0, out.stderr
        return {n: (tmp_path / user_inputs(n)).read_bytes() for n in STAGES if n != "params"}

    first = run()
    assert run() == first  # unchanged inputs: byte-identical fingerprints
    link = json.loads(first["link"])
    assert {i["key"] for i in link["inputs"]} == {"data.measures_file", "link.type_overrides"}
    (tmp_path / "types.csv").write_text("trust_code,trust_type,note,source\nRQ1,community,n,s\n")
    second = run()
    assert {n for n in first if first[n] != second[n]} == {"link"}
    (tmp_path / "mine" / "b.csv").write_text("new file\n")
    third = run()
    assert {n for n in first if second[n] != third[n]} == {"acquire"}
    (tmp_path / "measures.yaml").write_text((REPO / "measures.yaml").read_text() + "\n# edited\n")
    fourth = run()
    assert {n for n in first if third[n] != fourth[n]} == set(STAGES) - {"params", "acquire"}


def test_a_symlink_is_fingerprinted_by_its_target_not_followed(tmp_path):
    from linkage.fingerprint import _HashCache, stage_inputs

    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "passwd.csv").symlink_to("/etc/passwd")
    p = validate_params({"data": {"source": "local", "local_dir": "mine"}})
    got = stage_inputs(p, "acquire", tmp_path, _HashCache(tmp_path / "c.json"))
    (item,) = [i for i in got["inputs"] if i["key"] == "data.local_dir"]
    assert item["files"] == {"passwd.csv": "symlink:/etc/passwd"}


def test_marker_reads():
    m = UserPath("file", ("*",))
    assert m.reads("link") and m.reads("report") and not m.reads("acquire") and not m.reads("params")
