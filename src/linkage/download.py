"""Official downloads: fetch the published files listed in ``catalogue/sources.yaml``.

Each file is streamed to a temporary file beside its destination, its sha256
checked against the sources file, then moved into place with
:func:`os.replace` (so a half-written or wrong file never appears under its
real name).  Without a network the first failed connection stops the stage
with a message listing where to put each missing file by hand.

Public functions
----------------
load_sources(sources_file=None) -> list[SourceFile]
download_sources(sources_file, dest_dir, *, timeout=30.0, base_url=None, only=None) -> list[Path]

``linkage download`` (in :mod:`linkage.cli`) runs :func:`download_sources` on its own.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

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


def _fetch(src: SourceFile, url: str, target: Path, timeout: float) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent)
    tmp = Path(tmp_name)
    h = hashlib.sha256()
    try:
        req = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(req, timeout=timeout) as resp:
            for chunk in iter(lambda: resp.read(1 << 16), b""):
                h.update(chunk)
                out.write(chunk)
        got = h.hexdigest()
        if got != src.sha256:
            raise DownloadError(
                f"{src.id}: checksum mismatch for {url}: expected sha256 {src.sha256}, got {got}; "
                f"the file was not saved (the publisher may have re-issued it: check {src.publisher_page or url} "
                "and update catalogue/sources.yaml)"
            )
        os.replace(tmp, target)
    finally:
        if tmp.exists():
            tmp.unlink()


def download_sources(
    sources_file: str | Path | None,
    dest_dir: str | Path,
    *,
    timeout: float = 30.0,
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
        Seconds per connection attempt / read.
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
        says where to put the files by hand), HTTP error, or checksum mismatch.
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
            _fetch(src, url, target, timeout)
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
