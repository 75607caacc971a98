"""Section ``multiverse`` (stage ``multiverse``): the specification curve; see ``docs/multiverse.md``."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlsplit

from pydantic import AfterValidator, Field, field_validator, model_validator

from ..vocab import (
    BOOT_KINDS,
    BOOT_WEIGHTS,
    DEPRIVATION_SAMPLES,
    MULTIVERSE_FAMILIES,
    SAMPLES,
    BootKind,
    BootWeights,
    Moderator,
    MultiverseCov,
    Sample,
    SmallSample,
    WeightChoice,
    family_names,
)
from ._base import KeyProblem, Section, refuse_empty, refuse_repeats
from .model import known_family
from .roundtrip import Choices


def _curve_families() -> tuple[str, ...]:
    return family_names("curve")


#: A family of the specification curve: a registered family with a batched fit (``curve`` in its entry).
CurveFamily = Annotated[str, AfterValidator(known_family("curve")), Choices(_curve_families)]

#: Schemes a dask.distributed scheduler address may use.
SCHEDULER_SCHEMES = ("tcp", "tls", "ws", "wss", "ucx")
Timing = Annotated[int, Field(ge=-5, le=5)]


class MultiverseParams(Section):
    """Choices the specification curve varies over, and its inference (stage ``multiverse``)."""

    staff_measures: list[str] = Field(
        default_factory=lambda: [
            "staff.stress", "staff.burnout", "staff.emotional_exhaustion", "staff.hwb_action", "staff.hwb_theme",
            "staff.engagement", "staff.morale", "staff.recommend_care", "staff.enough_staff",
        ],
        description="Staff measures entered, one at a time, as the regressor (at year t - k). A measure the panel lacks is listed with the reason, not dropped.",
    )
    patient_measures: list[str] = Field(
        default_factory=lambda: ["patient.ip_overall", "patient.ip_respect_dignity"],
        description="Patient experience measures used, one at a time, as the dependent variable (at year t).",
    )
    families: list[CurveFamily] = Field(
        default_factory=lambda: list(MULTIVERSE_FAMILIES),
        description="Model families: entity_fe, twoway_fe, first_difference, mundlak (within coefficient), random_effects, pooled. All but entity_fe include year effects when time_effects is true.",
    )
    lags: list[Timing] = Field(
        default_factory=lambda: [0, 1, -1],
        description="Timings k of the staff measure: staff at calendar year t - k; 0 same year, positive lags, negative placebo leads.",
    )
    samples: list[Sample] = Field(
        default_factory=lambda: [s for s in SAMPLES if s not in DEPRIVATION_SAMPLES],
        description="Estimation samples: all; no_merged (drop trusts formed by a merger, from panel_long); no_specialist (drop acute_specialist trusts); balanced (trusts present in every year of the specification); leave_one_year_out (one sample per year with data); most_deprived_half / least_deprived_half (trusts above / at or below the median catchment deprivation, context.imd2019_score; only when listed here).",
    )
    weights: list[WeightChoice] = Field(
        default_factory=lambda: ["none", "respondents"],
        description="Weightings: none, or respondents (each trust-year weighted by the base n of the dependent, column '<dependent>__n').",
    )
    cov_types: list[MultiverseCov] = Field(
        default_factory=lambda: ["clustered_entity"],
        description="Covariances: clustered_entity (by trust), robust (heteroskedasticity only), unadjusted (classical).",
    )
    moderators: list[Moderator] = Field(
        default_factory=lambda: ["none"],
        description="Moderator choices: none, or deprivation (adds exposure x catchment deprivation, context.imd2019_score centred on the mean over the fitted regression's trusts, each trust once; the curve estimate is then the association at that mean deprivation and the interaction is reported beside it). Families whose transformation depends on the exposure (random_effects, mundlak) list moderated specifications as unsupported; without context data they all are.",
    )
    inferential_families: list[CurveFamily] = Field(
        default_factory=lambda: ["twoway_fe", "first_difference", "mundlak"],
        description="Pre-specified inferential curve: the families whose specifications count as evidence (default the within-trust designs; pooled, random_effects and entity_fe stay in the curve as exploratory). Families not in families are simply not fitted.",
    )
    inferential_lags: list[Annotated[int, Field(ge=0, le=5)]] = Field(
        default_factory=lambda: [0, 1],
        description="Timings k (staff at t - k, k >= 0) of the inferential curve; the same families at negative lags are placebo leads, reported as falsification checks. Lags not in lags are simply not fitted.",
    )
    inferential_moderators: list[Moderator] = Field(
        default_factory=lambda: ["none"],
        description="Moderator choices whose specifications may count as evidence (inferential, placebo and reverse roles at the inferential families and lags); moderated specifications of a choice not listed here are exploratory. Choices not in moderators are simply not fitted.",
    )
    falsification_reverse: bool = Field(
        True,
        description="Also fit reverse models (patient measure at t - k predicting the staff measure at t, for the positive inferential lags, inferential families and every sample, weighting and covariance), reported as falsification checks only, never as evidence.",
    )
    time_effects: bool = Field(
        True,
        description="Year effects in every family except entity_fe (absorbed in twoway_fe; dummies in pooled, random_effects, mundlak; differenced dummies in first_difference).",
    )
    small_sample: SmallSample = Field(
        "cr1",
        description="Small-sample convention of every standard error and reference distribution (same conventions as model.small_sample; see docs/models.md).",
    )
    alpha: float = Field(0.05, gt=0, lt=0.5, description="Two-sided significance level of every interval, test and adjusted p-value.")
    min_obs: int = Field(30, ge=3, le=1_000_000, description="Fewest trust-year observations a specification may have; fewer lists it as unsupported with the count.")
    panel_long: str = Field(
        "auto",
        description="Long panel file whose merged_from column marks merged trusts (for the no_merged sample): 'auto' = panel_long.parquet beside the panel file; '' = none (no_merged specifications are then listed as unsupported).",
    )
    headline_family: CurveFamily = Field(
        "twoway_fe",
        description="Family of the headline specifications (sample all, unweighted, clustered by trust) that get the wild cluster bootstrap.",
    )
    bootstrap_specs: int = Field(20, ge=0, le=200, description="Largest number of headline specifications bootstrapped (in spec order).")
    bootstrap_draws: int = Field(999, ge=99, le=99_999, description="Wild cluster bootstrap draws (for the headline specifications and for the curve-level Romano-Wolf and joint tests).")
    bootstrap_weights: list[BootWeights] = Field(
        default_factory=lambda: list(BOOT_WEIGHTS),
        description="Wild bootstrap weight distributions: rademacher (+-1), webb (six-point; better with few clusters).",
    )
    bootstrap_kinds: list[BootKind] = Field(
        default_factory=lambda: list(BOOT_KINDS),
        description="wcr: null imposed (restricted; p-values and test-inversion intervals); wcu: unrestricted (percentile-t intervals and p-values).",
    )
    seed: int = Field(20241123, ge=0, le=2**32 - 1, description="Random seed of every bootstrap draw (same seed, same draws, same adjusted p-values).")
    scheduler: str = Field(
        "",
        description="dask.distributed scheduler address (e.g. tcp://10.0.0.5:8786) to fan the curve and the bootstrap out over a cluster; '' runs in-process.",
    )
    chunks: int = Field(8, ge=1, le=1000, description="Number of work chunks (groups of specifications sharing data) sent to the dask cluster when scheduler is set.")

    @field_validator("scheduler")
    @classmethod
    def _address(cls, v: str) -> str:
        if v == "":
            return v
        parts = urlsplit(v)
        try:
            port = parts.port
        except ValueError:
            port = None
        if parts.scheme not in SCHEDULER_SCHEMES or not parts.hostname or port is None or parts.path not in ("", "/"):
            raise ValueError(f"not a scheduler address (given: {v!r}); expected '' or "
                             f"<{'|'.join(SCHEDULER_SCHEMES)}>://host:port, e.g. tcp://10.0.0.5:8786")
        return v

    @field_validator("inferential_families", "inferential_lags", "inferential_moderators")
    @classmethod
    def _distinct(cls, values: list, info):
        if not values or len(set(values)) != len(values):
            raise ValueError(f"list at least one choice, each once; got {list(values)}")
        return values

    @model_validator(mode="after")
    def _consistent(self) -> MultiverseParams:
        for key in ("staff_measures", "patient_measures", "families", "lags", "samples", "weights", "cov_types",
                    "moderators"):
            refuse_empty(key, getattr(self, key))
            refuse_repeats(key, getattr(self, key))
        if self.bootstrap_specs:
            for key in ("bootstrap_weights", "bootstrap_kinds"):
                if not getattr(self, key):
                    raise KeyProblem(key, "is empty but bootstrap_specs > 0; list at least one, or set bootstrap_specs: 0")
        for key in ("bootstrap_weights", "bootstrap_kinds"):
            refuse_repeats(key, getattr(self, key))
        return self
