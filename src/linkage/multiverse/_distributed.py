"""Fan the curve and the headline bootstrap out over a dask.distributed cluster.

The same functions as in-process run on the workers: :func:`fit_specs` on chunks
of specifications that share their data (so each block is transformed once, on
one worker) and :func:`headline_bootstrap` on chunks of headline
specifications (the draws are seeded, so every chunk uses the same draws).
Results are put back in specification order, so the output equals the
in-process output.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..errors import LinkageError
from ..params.multiverse import MultiverseParams
from ._engine import Scores, fit_specs
from ._headline import BOOT_COLUMNS, headline_bootstrap
from ._specs import DATA_KEY


def _client(address: str):
    try:
        from distributed import Client
    except ModuleNotFoundError:
        raise LinkageError(
            f"multiverse.scheduler is {address!r} but dask.distributed is not installed; "
            "pip install 'dask[distributed]' or set multiverse.scheduler to ''"
        ) from None
    try:
        return Client(address, timeout="10s", set_as_default=False)
    except OSError as err:
        raise LinkageError(
            f"cannot reach the dask scheduler at multiverse.scheduler={address!r} ({err}); "
            "start it (dask scheduler) or set multiverse.scheduler to '' to run in-process"
        ) from None


def chunk_specs(specs: pd.DataFrame, n_chunks: int) -> list[pd.DataFrame]:
    """Split specifications into at most ``n_chunks`` parts, never splitting the (dependent, exposure) pairs."""
    pair = specs.groupby(DATA_KEY[:2], sort=False).ngroup().to_numpy()
    n = max(1, min(n_chunks, int(pair.max()) + 1 if len(pair) else 1))
    return [specs[pair % n == i] for i in range(n) if (pair % n == i).any()]


def fit_distributed(panel: pd.DataFrame, specs: pd.DataFrame, params: MultiverseParams,
                    merged: set[str] | None = None) -> tuple[pd.DataFrame, Scores]:
    """:func:`fit_specs` over the cluster at ``params.scheduler``; same output as in-process."""
    client = _client(params.scheduler)
    try:
        panel_f = client.scatter(panel, broadcast=True)
        futures = [client.submit(fit_specs, panel_f, part, params, merged, pure=False)
                   for part in chunk_specs(specs, params.chunks)]
        results = client.gather(futures)
    finally:
        client.close()
    table = pd.concat([t for t, _ in results], ignore_index=True)
    order = np.argsort(table["spec_id"].to_numpy(), kind="mergesort")
    table = table.iloc[order].reset_index(drop=True)
    stack = {k: np.concatenate([getattr(s, k) for _, s in results])[order] for k in ("a", "h", "b", "qy", "qx")}
    sxx = np.concatenate([s.sxx for _, s in results])[order]
    return table, Scores(table["spec_id"].to_numpy(), stack["a"], stack["h"], stack["b"], sxx, results[0][1].codes,
                         stack["qy"], stack["qx"])


def bootstrap_distributed(table: pd.DataFrame, scores: Scores, params: MultiverseParams,
                          rows: np.ndarray) -> pd.DataFrame:
    """:func:`headline_bootstrap` over the cluster, one chunk of headline specifications per task."""
    if len(rows) == 0:
        return pd.DataFrame(columns=BOOT_COLUMNS)
    client = _client(params.scheduler)
    try:
        parts = np.array_split(rows, min(params.chunks, len(rows)))
        futures = [client.submit(headline_bootstrap, table, scores, params, part, pure=False) for part in parts]
        out = pd.concat(client.gather(futures), ignore_index=True)
    finally:
        client.close()
    return out.sort_values(["boot_weights", "boot_kind", "spec_id"], kind="mergesort", ignore_index=True)
