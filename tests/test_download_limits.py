"""Downloads have a deadline and a stall limit, and a short body is named as incomplete.

Against a loopback HTTP server the test starts, which can trickle, stall, cut
a file short or serve the wrong bytes.  Nothing partial is ever kept.
"""

from __future__ import annotations

import hashlib
import http.server
import threading
import time

import pytest

from linkage.download import DownloadError, IncompleteDownload, download_sources

BODY = bytes(range(256)) * 8  # 2 KiB
GOOD = hashlib.sha256(BODY).hexdigest()


class _Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 (stdlib name)
        mode = self.path.strip("/").split("/")[0]
        self.send_response(200)
        self.send_header("Content-Length", str(len(BODY)))
        self.end_headers()
        try:
            if mode == "trickle":  # a byte every 0.2 s: never silent for long, never finished in time
                for b in BODY:
                    self.wfile.write(bytes([b]))
                    self.wfile.flush()
                    time.sleep(0.2)
            elif mode == "stall":  # half, then silence
                self.wfile.write(BODY[: len(BODY) // 2])
                self.wfile.flush()
                time.sleep(5)
            elif mode == "short":  # half, then the connection closes
                self.wfile.write(BODY[: len(BODY) // 2])
                self.wfile.flush()
                self.close_connection = True
            elif mode == "wrong":
                self.wfile.write(bytes(len(BODY)))
            else:
                self.wfile.write(BODY)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def log_message(self, *args):
        pass


@pytest.fixture
def base():
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    httpd.daemon_threads = True
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


def _sources(tmp_path, mode, base):
    p = tmp_path / "sources.yaml"
    p.write_text("files:\n  - id: f1\n    kind: staff\n    dest: nss/f1.xlsx\n"
                 f"    url: {base}/{mode}/f1.xlsx\n    sha256: '{GOOD}'\n")
    return p


def _nothing_kept(dest):
    return not dest.exists() or not [p for p in dest.rglob("*") if p.is_file()]


def test_a_complete_file_downloads(tmp_path, base):
    dest = tmp_path / "dl"
    (path,) = download_sources(_sources(tmp_path, "ok", base), dest, timeout=10, stall=5)
    assert path.read_bytes() == BODY


def test_a_trickle_is_stopped_by_the_total_deadline(tmp_path, base):
    dest = tmp_path / "dl"
    t0 = time.monotonic()
    with pytest.raises(IncompleteDownload, match=r"longer than data.download_timeout=1 s .* of 2,048 bytes received"):
        download_sources(_sources(tmp_path, "trickle", base), dest, timeout=1, stall=5)
    assert time.monotonic() - t0 < 8  # deadline plus at most one stall
    assert _nothing_kept(dest)


def test_a_stall_is_stopped_by_the_stall_limit(tmp_path, base):
    dest = tmp_path / "dl"
    with pytest.raises(IncompleteDownload, match=r"stalled: no data for data.download_stall=0.5 s after 1,024 of 2,048"):
        download_sources(_sources(tmp_path, "stall", base), dest, timeout=60, stall=0.5)
    assert _nothing_kept(dest)


def test_a_short_body_is_named_incomplete_not_a_checksum_mismatch(tmp_path, base):
    dest = tmp_path / "dl"
    with pytest.raises(IncompleteDownload, match=r"incomplete: expected 2,048 bytes, received 1,024") as err:
        download_sources(_sources(tmp_path, "short", base), dest, timeout=10, stall=5)
    assert "checksum" not in str(err.value)
    assert _nothing_kept(dest)


def test_a_wrong_file_is_a_checksum_mismatch_and_not_kept(tmp_path, base):
    dest = tmp_path / "dl"
    with pytest.raises(DownloadError, match="checksum mismatch") as err:
        download_sources(_sources(tmp_path, "wrong", base), dest, timeout=10, stall=5)
    assert not isinstance(err.value, IncompleteDownload)
    assert _nothing_kept(dest)


def test_the_limits_are_params_with_defaults():
    from linkage.params import DataParams

    data = DataParams()
    assert data.download_timeout > data.download_stall > 0
