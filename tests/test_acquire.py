"""Stage acquire: demo, local folder and official downloads (through a loopback mirror)."""

from __future__ import annotations

import functools
import http.server
import shutil
import socket
import threading

import pytest
from conftest import run_pipeline_in

from linkage.download import DownloadError, load_sources


@pytest.fixture
def mirror(tmp_path, real_data_dir):
    """A loopback HTTP server holding the official files at <dest>, copied from the real folder."""
    root = tmp_path / "mirror"
    for src in load_sources():
        found = list(real_data_dir.rglob(src.dest.split("/")[-1]))
        if not found:
            pytest.skip(f"{src.dest} not in {real_data_dir}")
        (root / src.dest).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(found[0], root / src.dest)
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    handler.log_message = lambda *a: None
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


@pytest.mark.real
def test_official_source_downloads_verifies_and_links(tmp_path, mirror, real_data_dir):
    downloads = tmp_path / "run" / "data" / "downloads"
    # the ODS successions and trust types are converted R data with no download URL:
    # they are placed by hand in the persistent download folder, which acquire keeps
    (downloads / "ods").mkdir(parents=True)
    for name in ("trust_successions.csv", "trust_types_2022.csv"):
        shutil.copyfile(real_data_dir / "ods" / name, downloads / "ods" / name)
    run = run_pipeline_in(tmp_path / "run", {"source": "official", "mirror_url": mirror}, model=False)
    files = {f["path"] for f in run["manifest"]["files"]}
    assert {s.dest for s in load_sources()} <= files
    assert "ods/trust_successions.csv" in files
    assert run["manifest"]["source"] == "official"
    assert run["link"].metrics["headline"]["both_same_year"]["2022"] > 120
    # a second acquire finds the verified files in place and fetches nothing
    again = run_pipeline_in(tmp_path / "run", {"source": "official", "mirror_url": "http://127.0.0.1:9"}, model=False)
    assert again["manifest"]["files"] == run["manifest"]["files"]


def test_official_offline_says_where_to_put_files(tmp_path):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    with pytest.raises(DownloadError) as err:
        run_pipeline_in(tmp_path, {"source": "official", "mirror_url": f"http://127.0.0.1:{port}"}, model=False)
    msg = str(err.value)
    assert "by hand" in msg and "data/downloads/nss/ST19-Organisation-Data-2019-Only-v1f.xlsx" in msg


def _study_folder(tmp_path):
    study = tmp_path / "study"
    study.mkdir()
    (study / "extract.csv").write_text("trust_code,fin_year,x\nRAA,2019,1\n")
    return study


def test_a_study_folder_without_a_registry_names_registry_dir(tmp_path):
    from linkage.acquire import acquire
    from linkage.errors import LinkageError
    from linkage.params import DataParams

    _study_folder(tmp_path)
    with pytest.raises(LinkageError, match=r"no organisation registry: study/ods holds no etr.csv\. Set data.registry_dir"):
        acquire(DataParams(source="local", local_dir="study"), raw_dir="raw", root=tmp_path)


def test_registry_dir_and_aliases_are_copied_beside_the_study_files(tmp_path):
    import json

    from test_registry import write_ods

    from linkage.acquire import acquire
    from linkage.params import DataParams

    _study_folder(tmp_path)
    write_ods(tmp_path / "elsewhere" / "ods")
    (tmp_path / "aliases.csv").write_text("name,org_code\nOld Name NHS Trust,RAA\n")
    manifest = acquire(DataParams(source="local", local_dir="study", registry_dir="elsewhere/ods",
                                  name_aliases="aliases.csv"), raw_dir="raw", root=tmp_path)
    raw = tmp_path / "raw"
    assert sorted(p.name for p in (raw / "ods").iterdir()) == ["etr.csv", "name_aliases.csv", "trust_successions.csv",
                                                              "trust_types_2022.csv"]
    assert (raw / "extract.csv").exists() and not (tmp_path / "study" / "ods").exists()
    assert manifest["registry_dir"] == "elsewhere/ods" and manifest["name_aliases"] == "aliases.csv"
    listed = {f["path"] for f in json.loads((raw / "manifest.json").read_text())["files"]}
    assert {"ods/etr.csv", "ods/name_aliases.csv", "extract.csv"} <= listed
