"""Section ``data`` (stage ``acquire``): where the raw files come from."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import Field, field_validator, model_validator

from ..vocab import DataSource
from ._base import Section
from .userpath import ALL_STAGES, UserPath

#: Largest number of synthetic organisations of each group the demo can code uniquely.
DEMO_MAX_ORGS = 400


class DemoParams(Section):
    seed: int = Field(20241121, ge=0, le=2**32 - 1, description="Random seed of the synthetic demo data (0 to 2^32-1); same seed, same files.")
    n_acute: int = Field(130, ge=10, le=DEMO_MAX_ORGS, description="Number of synthetic acute and acute specialist trusts.")
    n_non_acute: int = Field(25, ge=0, le=200, description="Number of synthetic non-acute organisations (mental health, community, ambulance, CCG-like).")
    staff_years: list[int] = Field(
        default_factory=lambda: [2017, 2018, 2019, 2020, 2021, 2022, 2023],
        description="Staff Survey years written as 2019-layout organisation workbooks (2010-2030).",
    )
    patient_years: list[int] = Field(
        default_factory=lambda: [2018, 2019, 2020, 2021, 2022, 2023],
        description="Inpatient Survey years written as 2022-layout benchmark files (each with two historical sheets; 2010-2030).",
    )
    true_effect: float = Field(
        -0.03,
        ge=-1.0,
        le=1.0,
        description="Planted within-trust effect of staff stress (percentage points) on the inpatient overall rating (0-10 score) in the same year.",
    )
    n_mergers: int = Field(2, ge=0, le=10, description="Number of planted mergers of two synthetic acute trusts.")

    @field_validator("staff_years", "patient_years")
    @classmethod
    def _years(cls, v: list[int]) -> list[int]:
        if not v:
            raise ValueError("at least one year is required")
        if any(y < 2010 or y > 2030 for y in v):
            raise ValueError(f"years must lie in 2010-2030, got {v}")
        return sorted(set(v))

    @model_validator(mode="after")
    def _mergers_fit(self) -> DemoParams:
        if 2 * self.n_mergers > self.n_acute // 2:
            raise ValueError(
                f"n_mergers={self.n_mergers} needs {2 * self.n_mergers} acute trusts to merge, more than half of "
                f"n_acute={self.n_acute}; use at most {self.n_acute // 4} mergers or more trusts"
            )
        return self


class DataParams(Section):
    source: DataSource = Field(
        "demo",
        description="Where raw files come from: 'demo' writes synthetic files in the publishers' layouts; 'local' reads a folder of published files (data.local_dir); 'official' downloads the publishers' files listed in data.sources_file, verifying sha256.",
    )
    local_dir: Annotated[str, UserPath("dir", ("acquire",), sources=("local",))] = Field(
        "data/local",
        min_length=1,
        description="Folder of published files used when data.source is 'local' (searched recursively for Staff Survey, CQC and ODS files), e.g. ../shared/data/real. Tracked for acquire through the params stage's fingerprint of its files: editing, adding or removing a file there re-runs it.",
    )
    sources_file: Annotated[str, UserPath("file", ("acquire",), sources=("official",), unset=("default",),
                                          suffixes=(".yaml", ".yml"))] = Field(
        "default",
        description="YAML list of official download URLs and expected sha256, used when data.source is 'official'; 'default' is the packaged src/linkage/catalogue/sources.yaml.",
    )
    download_dir: Annotated[str, UserPath("dir", ("acquire",), sources=("official",), absent_ok=True)] = Field(
        "data/downloads",
        description="Persistent folder (not a DVC output) where 'official' downloads are kept, sha256-checked, and where files can be placed by hand when offline; acquire copies it into data/raw.",
    )
    mirror_url: str = Field(
        "",
        description="Optional base URL of a mirror holding the official files at <mirror_url>/<dest> (e.g. an internal file server); empty uses each file's own URL.",
    )
    mappings_dir: Annotated[str, UserPath("dir", ("ingest_staff", "ingest_patient"), absent_ok=True,
                                          suffixes=(".yaml", ".yml"))] = Field(
        "mappings",
        min_length=1,
        description="The project's own folder of extract mappings (YAML, format in docs/mappings.md), tried before the packaged ones by linkage read and the ingest stages. A DVC dependency of the ingest stages.",
    )
    measures_file: Annotated[str, UserPath("file", (ALL_STAGES,), absent_ok=True, suffixes=(".yaml", ".yml"))] = Field(
        "measures.yaml",
        min_length=1,
        description="The project's own measures YAML (role staff/patient/outcome, scale, label, direction, first comparable year; docs/mappings.md), added to the packaged catalogue for every stage. A DVC dependency of every stage that reads measures.",
    )
    max_uncompressed_mb: float = Field(
        1000.0,
        gt=0,
        le=100_000,
        description="Largest size in MB that an .xlsx or .ods workbook (a zip archive) may declare for its unpacked contents; a larger one (a 'zip bomb') is refused before parsing, naming the file. Real survey workbooks unpack to 5-20 MB.",
    )
    registry_dir: Annotated[str, UserPath("dir", ("acquire",), unset=("",))] = Field(
        "",
        description="Folder of the organisation registry (ODS etr.csv, trust_successions*.csv, trust_types*.csv, optionally trusts_*regions*.csv), copied by acquire into data/raw/ods. Empty: what the source provides - the demo's own, <local_dir>/ods for 'local', <download_dir>/ods for 'official' - so a study folder needs only the study's files when this names a registry elsewhere (e.g. ../shared/data/real/ods).",
    )
    name_aliases: Annotated[str, UserPath("file", ("acquire",), unset=("",), suffixes=(".csv",))] = Field(
        "",
        description="Optional CSV of other names of trusts (columns name,org_code), for files keyed by organisation name: a renamed trust's old name maps to its code. Added to the names in the registry (etr.csv, and the regions file's 2022 names); copied by acquire into data/raw/ods. Empty: none.",
    )
    demo: DemoParams = Field(default_factory=DemoParams, description="Settings of the synthetic demo data.")

    def project_mappings(self) -> str | None:
        """``mappings_dir`` to use: None when it is the default and absent (e.g. outside the project folder).

        A folder named explicitly must exist (the readers say so if not).
        """
        return _explicit_or_present(self.mappings_dir, "mappings_dir")

    def project_measures(self) -> str | None:
        """``measures_file`` to use: None when it is the default and absent; an explicit one must exist."""
        return _explicit_or_present(self.measures_file, "measures_file")


def _explicit_or_present(value: str, key: str) -> str | None:
    default = DataParams.model_fields[key].default
    if value == default and not Path(value).exists():
        return None
    return value

