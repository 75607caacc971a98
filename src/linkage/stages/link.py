"""Stage ``link``: trust identity, alignment, the panel and the audit of every input row."""

from __future__ import annotations

import pandas as pd

from ..context import attach_context
from ..files import read_table, write_json, write_table
from ..link import LinkResult, balance_long, build_registry_for, run_link
from ..params import Params
from ..paths import ODS_DIR, RAW_DIR, STAGES

STAGE = STAGES["link"]


def run(params: Params) -> LinkResult:
    """Build the registry, link the two ingested sources and write panel, audit, metrics and plot data."""
    d = {role: read_table(STAGE.path(role)) for role in
         ("staff", "patient", "staff_orgs", "patient_orgs", "staff_rollups", "patient_rollups")}
    orgs = pd.concat([d["staff_orgs"], d["patient_orgs"]], ignore_index=True)
    rollups = pd.concat([d["staff_rollups"], d["patient_rollups"]], ignore_index=True)
    registry = build_registry_for(ODS_DIR, params.link)
    res = run_link(d["staff"], d["patient"], orgs, registry, params.link, rollups=rollups)
    ctx = attach_context(res.panel, RAW_DIR / "context", lambda code: registry.resolve(code).target)
    res.panel, res.metrics = ctx.panel, {**res.metrics, **ctx.metrics}
    write_table(ctx.audit, STAGE.path("context_audit"))
    for role, frame in (("panel", res.panel), ("panel_long", res.panel_long), ("audit", res.audit),
                        ("balance", balance_by_year(res.balance))):
        write_table(frame, STAGE.path(role))
    write_json(STAGE.path("metrics"), res.metrics)
    return res


def balance_by_year(balance: pd.DataFrame) -> pd.DataFrame:
    """Trusts per survey year by sources present (``both``, ``staff``, ``patient``): the DVC plot data."""
    long = balance_long(balance)
    counts = long[long["status"] != "none"].groupby(["year", "status"]).size().unstack("status", fill_value=0)
    for col in ("both", "staff", "patient"):
        if col not in counts:
            counts[col] = 0
    return counts[["both", "staff", "patient"]].reset_index()
