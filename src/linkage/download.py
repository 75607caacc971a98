"""Official downloads: fetch the published files listed in ``catalogue/sources.yaml``.

Each file is streamed to a temporary file beside its destination, its sha256
checked against the sources file, then moved into place with
:func:`os.replace` (so a half-written or wrong file never appears under its
real name).  Every file has a deadline (``data.download_timeout``) and a stall
limit (``data.download_stall``); a body shorter than its Content-Length is
named as incomplete with both byte counts.

Why not pooch: pooch gives hash-checked cached downloads, which this module
needs too, but its HTTP downloader passes one timeout to ``requests`` that
bounds each read, not the whole file, so a trickling server is never cut off,
and a short body surfaces as a hash mismatch; it would also be a new
dependency.  The ~100 lines here add the deadline and the byte counts.  Without a network the first failed connection stops the stage
with a message listing where to put each missing file by hand.

Public functions
----------------
load_sources(sources_file=None) -> list[SourceFile]
download_sources(sources_file, dest_dir, *, timeout=900.0, stall=30.0, base_url=None, only=None) -> list[Path]

``linkage download`` (in :mod:`linkage.cli`) runs :func:`download_sources` on its own.
"""

from __future__ import annotations

import hashlib
import http.client
import logging
import os
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from .errors import LinkageError
from .files import sha256_of

log = logging.getLogger("linkage.download")

USER_AGENT = "linkage-workbench/0.1 (+https://www.nhsstaffsurveys.com research use)"


class DownloadError(LinkageError):
    """A download failed: offline, HTTP error, or checksum mismatch."""


class SourceFile(BaseModel):
    """One entry of the sources file."""

    model_config = ConfigDict(extra="forbid")
    id: str
    kind: str
    dest: str = Field(description="path under the raw-data folder")
    url: str
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    publisher_page: str | None = None
    licence: str | None = None


def default_sources_file() -> Path:
    """The sources file shipped with the package."""
    from importlib import resources

    return Path(str(resources.files("linkage") / "catalogue" / "sources.yaml"))


def load_sources(sources_file: str | Path | None = None) -> list[SourceFile]:
    """Read and validate a sources file (default: the shipped one)."""
    path = Path(sources_file) if sources_file else default_sources_file()
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except FileNotFoundError:
        raise DownloadError(f"sources file {path} does not exist") from None
    except yaml.YAMLError as err:
        raise DownloadError(f"sources file {path} is not valid YAML: {err}") from None
    out = []
    for i, entry in enumerate(doc.get("files") or []):
        try:
            src = SourceFile(**entry)
        except (ValidationError, TypeError) as err:
            raise DownloadError(f"sources file {path}: entry {i + 1} is invalid: {err}") from None
        if Path(src.dest).is_absolute() or ".." in Path(src.dest).parts:
            raise DownloadError(f"sources file {path}: entry {src.id!r} dest must be a relative path inside the raw folder")
        out.append(src)
    return out


def _url_for(src: SourceFile, base_url: str | None) -> str:
    if not base_url:
        return src.url
    return base_url.rstrip("/") + "/" + urllib.parse.quote(src.dest)


def _by_hand(missing: list[SourceFile], dest_dir: Path) -> str:
    lines = [
        f"  - {dest_dir / s.dest}  <- {s.publisher_page or s.url} (file at {s.url}; sha256 {s.sha256[:12]}...)"
        for s in missing
    ]
    return "put these files there by hand (or use the `local` data source pointing at a folder of them):\n" + "\n".join(lines)


class IncompleteDownload(DownloadError):
    """A download ended early, stalled or ran past its deadline; nothing of it was kept."""


def _fetch(src: SourceFile, url: str, target: Path, timeout: float, stall: float) -> None:
    """Stream ``url`` to a temporary file beside ``target``, check it, then move it into place.

    ``stall`` bounds every wait for bytes (and the connection); ``timeout`` bounds
    the whole file (checked after every read, so it can be exceeded by at most
    one ``stall``).  A body shorter than its Content-Length is named as
    incomplete with the byte counts; the temporary file is always removed.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent)
    tmp = Path(tmp_name)
    h = hashlib.sha256()
    received = 0
    deadline = time.monotonic() + timeout
    try:
        req = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(req, timeout=min(stall, timeout)) as resp:
            length = resp.headers.get("Content-Length")
            expected = int(length) if length and length.isdigit() else None
            while chunk := _read_some(resp, src, url, received, expected, stall):
                h.update(chunk)
                out.write(chunk)
                received += len(chunk)
                if time.monotonic() > deadline:
                    raise IncompleteDownload(
                        f"{src.id}: {url} took longer than data.download_timeout={timeout:g} s "
                        f"({_bytes(received, expected)}); nothing was kept"
                    )
        if expected is not None and received != expected:
            raise IncompleteDownload(
                f"{src.id}: {url} is incomplete: expected {expected:,} bytes, received {received:,}; "
                "the connection ended early and nothing was kept (try again)"
            )
        got = h.hexdigest()
        if got != src.sha256:
            raise DownloadError(
                f"{src.id}: checksum mismatch for {url} ({received:,} bytes, complete): expected sha256 "
                f"{src.sha256}, got {got}; the file was not saved (the publisher may have re-issued it: check "
                f"{src.publisher_page or url} and update catalogue/sources.yaml)"
            )
        os.replace(tmp, target)
    finally:
        if tmp.exists():
            tmp.unlink()


def _read_some(resp: Any, src: SourceFile, url: str, received: int, expected: int | None, stall: float) -> bytes:
    """The next bytes of the body as soon as any arrive (not a full buffer), or b"" at its end."""
    try:
        return resp.read1(1 << 16)
    except TimeoutError:
        raise IncompleteDownload(
            f"{src.id}: {url} stalled: no data for data.download_stall={stall:g} s after "
            f"{_bytes(received, expected)}; nothing was kept"
        ) from None
    except http.client.IncompleteRead as err:
        raise IncompleteDownload(
            f"{src.id}: {url} is incomplete: expected {expected or received + (err.expected or 0):,} bytes, "
            f"received {received + len(err.partial):,}; nothing was kept (try again)"
        ) from None


def _bytes(received: int, expected: int | None) -> str:
    return f"{received:,} of {expected:,} bytes received" if expected is not None else f"{received:,} bytes received"


def download_sources(
    sources_file: str | Path | None,
    dest_dir: str | Path,
    *,
    timeout: float = 900.0,
    stall: float = 30.0,
    base_url: str | None = None,
    only: list[str] | None = None,
) -> list[Path]:
    """Download every file of the sources file into ``dest_dir`` and verify it.

    Files already present with the right checksum are not fetched again.

    Parameters
    ----------
    sources_file
        YAML with ``files: [{id, kind, dest, url, sha256, ...}]``; None for
        the shipped ``catalogue/sources.yaml``.
    dest_dir
        Raw-data folder; each file goes to ``dest_dir / dest``.
    timeout
        Most seconds one file may take in all (``data.download_timeout``).
    stall
        Most seconds without a byte, and for the connection (``data.download_stall``).
    base_url
        Fetch ``<base_url>/<dest>`` instead of each file's ``url`` (a mirror,
        or a test server).
    only
        Restrict to these ids.

    Returns
    -------
    list of Path
        The verified files, in sources-file order.

    Raises
    ------
    DownloadError
        Offline / unreachable host (fails at the first connection error and
        says where to put the files by hand), HTTP error, a stalled, slow or
        short download (:class:`IncompleteDownload`), or checksum mismatch.
    """
    dest = Path(dest_dir)
    sources = load_sources(sources_file)
    if only:
        unknown = sorted(set(only) - {s.id for s in sources})
        if unknown:
            raise DownloadError(f"unknown source ids {unknown}; known: {[s.id for s in sources]}")
        sources = [s for s in sources if s.id in only]
    done: list[Path] = []
    for i, src in enumerate(sources):
        target = dest / src.dest
        if target.exists() and sha256_of(target) == src.sha256:
            log.info("%s: present and verified", target)
            done.append(target)
            continue
        url = _url_for(src, base_url)
        log.info("downloading %s -> %s", url, target)
        try:
            _fetch(src, url, target, timeout, stall)
        except urllib.error.HTTPError as err:
            raise DownloadError(f"{src.id}: {url} answered HTTP {err.code} {err.reason}; " + _by_hand([src], dest)) from None
        except (urllib.error.URLError, TimeoutError, ConnectionError, OSError) as err:
            if isinstance(err, DownloadError):
                raise
            reason = getattr(err, "reason", err)
            missing = [s for s in sources[i:] if not ((dest / s.dest).exists() and sha256_of(dest / s.dest) == s.sha256)]
            raise DownloadError(
                f"cannot download {url} ({reason}); the network looks unavailable. " + _by_hand(missing, dest)
            ) from None
        done.append(target)
    return done


# --------------------------------------------------------------------------- CLI
