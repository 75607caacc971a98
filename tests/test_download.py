"""Official downloads against a loopback HTTP server started by the test."""

from __future__ import annotations

import functools
import hashlib
import http.server
import socket
import threading
import time

import pytest

from linkage.cli import main
from linkage.download import DownloadError, download_sources, load_sources


class _Handler(http.server.SimpleHTTPRequestHandler):
    hits: list[str] = []

    def do_GET(self):  # noqa: N802 (stdlib name)
        type(self).hits.append(self.path)
        return super().do_GET()

    def log_message(self, *args):  # keep test output quiet
        pass


@pytest.fixture
def server(tmp_path):
    root = tmp_path / "served"
    root.mkdir()
    _Handler.hits = []
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Handler, directory=str(root)))
    t = threading.Thread(target=httpd.serve_forever, daemon=True)
    t.start()
    try:
        yield root, f"http://127.0.0.1:{httpd.server_address[1]}", _Handler.hits
    finally:
        httpd.shutdown()
        httpd.server_close()


def _sources(tmp_path, entries):
    lines = ["files:"]
    for e in entries:
        lines += [f"  - id: {e['id']}", "    kind: staff", f"    dest: {e['dest']}",
                  f"    url: {e.get('url', 'http://example.invalid/' + e['dest'])}", f"    sha256: '{e['sha256']}'",
                  "    publisher_page: https://www.nhsstaffsurveys.com/results/"]
    p = tmp_path / "sources.yaml"
    p.write_text("\n".join(lines) + "\n")
    return p


def _serve(root, rel, data):
    f = root / rel
    f.parent.mkdir(parents=True, exist_ok=True)
    f.write_bytes(data)
    return hashlib.sha256(data).hexdigest()


def test_downloads_verify_and_write_atomically(tmp_path, server):
    root, base, hits = server
    a, b = b"workbook bytes" * 100, b"ods bytes" * 50
    sa, sb = _serve(root, "nss/a.xlsx", a), _serve(root, "cqc inpatient/b.ods", b)
    src = _sources(tmp_path, [{"id": "a", "dest": "nss/a.xlsx", "sha256": sa},
                              {"id": "b", "dest": "cqc inpatient/b.ods", "sha256": sb}])
    dest = tmp_path / "raw"
    paths = download_sources(src, dest, base_url=base, timeout=5)
    assert paths == [dest / "nss/a.xlsx", dest / "cqc inpatient/b.ods"]
    assert paths[0].read_bytes() == a and paths[1].read_bytes() == b
    assert not list(dest.rglob("*.part"))
    # second run: verified files are not fetched again
    n = len(hits)
    assert download_sources(src, dest, base_url=base, timeout=5) == paths
    assert len(hits) == n


def test_checksum_mismatch_leaves_nothing(tmp_path, server):
    root, base, _ = server
    _serve(root, "nss/a.xlsx", b"tampered")
    src = _sources(tmp_path, [{"id": "a", "dest": "nss/a.xlsx", "sha256": "0" * 64}])
    dest = tmp_path / "raw"
    with pytest.raises(DownloadError, match="checksum mismatch"):
        download_sources(src, dest, base_url=base, timeout=5)
    assert not (dest / "nss" / "a.xlsx").exists()
    assert all(p.is_dir() for p in dest.rglob("*"))  # no temp or partial files


def test_wrong_file_in_place_is_replaced(tmp_path, server):
    root, base, _ = server
    sha = _serve(root, "nss/a.xlsx", b"right bytes")
    src = _sources(tmp_path, [{"id": "a", "dest": "nss/a.xlsx", "sha256": sha}])
    dest = tmp_path / "raw"
    (dest / "nss").mkdir(parents=True)
    (dest / "nss" / "a.xlsx").write_bytes(b"stale")
    download_sources(src, dest, base_url=base, timeout=5)
    assert (dest / "nss" / "a.xlsx").read_bytes() == b"right bytes"


def test_http_404_names_url(tmp_path, server):
    _, base, _ = server
    src = _sources(tmp_path, [{"id": "a", "dest": "nss/missing.xlsx", "sha256": "1" * 64}])
    with pytest.raises(DownloadError, match=r"HTTP 404.*by hand"):
        download_sources(src, tmp_path / "raw", base_url=base, timeout=5)


def test_offline_fails_fast_and_says_where_to_put_files(tmp_path):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()  # nothing listens here now: connection refused, like being offline
    src = _sources(tmp_path, [{"id": "a", "dest": "nss/a.xlsx", "sha256": "2" * 64},
                              {"id": "b", "dest": "cqc_inpatient/b.ods", "sha256": "3" * 64}])
    dest = tmp_path / "raw"
    t0 = time.monotonic()
    with pytest.raises(DownloadError) as e:
        download_sources(src, dest, base_url=f"http://127.0.0.1:{port}", timeout=5)
    assert time.monotonic() - t0 < 5
    msg = str(e.value)
    assert "by hand" in msg and str(dest / "nss/a.xlsx") in msg and str(dest / "cqc_inpatient/b.ods") in msg
    assert "nhsstaffsurveys.com" in msg


def test_cli_download(tmp_path, server, capsys):
    root, base, _ = server
    sha = _serve(root, "nss/a.xlsx", b"abc")
    src = _sources(tmp_path, [{"id": "a", "dest": "nss/a.xlsx", "sha256": sha}])
    dest = tmp_path / "raw"
    assert main(["download", "--sources", str(src), "--dest", str(dest), "--base-url", base]) == 0
    assert capsys.readouterr().out.strip() == str(dest / "nss" / "a.xlsx")
    bad = _sources(tmp_path, [{"id": "a", "dest": "nss/zzz.xlsx", "sha256": sha}])
    assert main(["download", "--sources", str(bad), "--dest", str(dest), "--base-url", base]) == 2
    assert "HTTP 404" in capsys.readouterr().err


def test_shipped_sources_match_real_files(real_data_dir):
    """The checksums in catalogue/sources.yaml are those of the real published files."""
    for src in load_sources():
        p = real_data_dir / src.dest
        if not p.exists():
            continue
        assert hashlib.sha256(p.read_bytes()).hexdigest() == src.sha256, src.id
