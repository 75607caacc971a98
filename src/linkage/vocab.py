"""Allowed values and their plain-language labels, defined once.

Every closed set of choices the workbench knows (data sources, survey kinds,
measure scales, trust types, model families, covariance estimators, small-sample
conventions) is a ``Literal`` type here, with its tuple of values derived from
it and, where people read it, one label per value.  The params schema, the
readers, the linkage, the models and the reports all import from here.

This module is part of the foundation: it imports nothing from the package.
"""

from __future__ import annotations

from typing import Literal, get_args

# --------------------------------------------------------------------------- data
DataSource = Literal["demo", "local", "official"]
DATA_SOURCES: tuple[str, ...] = get_args(DataSource)

Kind = Literal["staff", "patient"]
"""The two survey kinds a reader or an ingest stage handles (the two sides of the link)."""
KINDS: tuple[str, ...] = get_args(Kind)

Role = Literal["staff", "patient", "outcome"]
"""What a measure is: a staff measure, a patient experience measure, or another
trust-year outcome (a mortality ratio, a Friends and Family Test percentage...).
Outcomes travel with the patient side of the link (stage ``ingest_patient``)."""
ROLES: tuple[str, ...] = get_args(Role)

ROLE_SIDE: dict[str, str] = {"staff": "staff", "patient": "patient", "outcome": "patient"}
"""The ingest stage (link side) that carries each measure role."""

Scale = Literal["proportion", "percent", "score10", "count", "ratio", "index", "mean1to5"]
"""Scales a published value can be on (the readers' ``scale`` column).

``ratio`` is a non-negative ratio (e.g. observed/expected deaths, 1 = as
expected); ``index`` any real number (a standardised index); ``mean1to5`` a
mean of 1-5 answers.  Each is kept on its own scale: there is no conversion
between them and the survey scales."""
SCALES: tuple[str, ...] = get_args(Scale)

SCALE_RANGES: dict[str, tuple[float, float]] = {
    "proportion": (0.0, 1.0),
    "percent": (0.0, 100.0),
    "score10": (0.0, 10.0),
    "count": (0.0, float("inf")),
    "ratio": (0.0, float("inf")),
    "index": (float("-inf"), float("inf")),
    "mean1to5": (1.0, 5.0),
}
"""Inclusive range of valid values on each scale (readers quarantine values outside)."""

UNIT_TEXT: dict[str, str] = {
    "percent": "percentage point",
    "score10": "point",
    "proportion": "unit (0-1)",
    "count": "respondent",
    "ratio": "ratio unit",
    "index": "index point",
    "mean1to5": "1-5 scale point",
}
"""One unit of each scale, in words (for 'per one ... higher')."""

# --------------------------------------------------------------------------- organisations
TrustType = Literal[
    "acute", "acute_specialist", "mental_health", "community", "ambulance", "non_trust", "unknown"
]
TRUST_TYPES: tuple[str, ...] = get_args(TrustType)

# --------------------------------------------------------------------------- linkage
Fate = Literal["matched", "merged", "excluded"]
FATES: tuple[str, ...] = get_args(Fate)

# --------------------------------------------------------------------------- models
Family = Literal["pooled", "between", "entity_fe", "twoway_fe", "random_effects", "first_difference", "mundlak"]
FAMILIES: tuple[str, ...] = get_args(Family)

FAMILY_TEXT: dict[str, str] = {
    "pooled": "pooled OLS (+ year effects)",
    "between": "between (trust means)",
    "entity_fe": "trust fixed effects",
    "twoway_fe": "trust and year fixed effects",
    "random_effects": "random effects (+ year effects)",
    "first_difference": "first differences (+ year effects)",
    "mundlak": "correlated random effects (Mundlak)",
}

FAMILY_ORDER: tuple[str, ...] = (
    "between", "pooled", "random_effects", "mundlak", "entity_fe", "twoway_fe", "first_difference",
)
"""Display order: from the cross-sectional comparison to the within-trust designs."""

EffectKind = Literal["pooled", "between", "within", "mixed"]
EFFECT_KIND: dict[str, str] = {
    "pooled": "pooled",
    "between": "between",
    "entity_fe": "within",
    "twoway_fe": "within",
    "random_effects": "mixed",
    "first_difference": "within",
    "mundlak": "within",
}
"""Which variation each family uses (between trusts, within trusts, or both)."""

CovType = Literal["clustered_entity", "clustered_twoway", "driscoll_kraay", "robust", "unadjusted"]
COV_TYPES: tuple[str, ...] = get_args(CovType)

COV_TEXT: dict[str, str] = {
    "clustered_entity": "clustered by trust",
    "clustered_twoway": "clustered by trust and year (two-way)",
    "driscoll_kraay": "Driscoll-Kraay (Bartlett kernel over years)",
    "robust": "heteroskedasticity-robust",
    "unadjusted": "classical (homoskedastic)",
}
"""Short technical label of each covariance (tables)."""

COV_PLAIN: dict[str, str] = {
    "clustered_entity": "standard errors clustered by trust",
    "clustered_twoway": "standard errors clustered by trust and by year",
    "driscoll_kraay": "Driscoll-Kraay standard errors",
    "robust": "heteroskedasticity-robust standard errors",
    "unadjusted": "classical standard errors",
}
"""The same, as a phrase for report sentences."""

SmallSample = Literal["cr1", "linearmodels", "none"]
SMALL_SAMPLE: tuple[str, ...] = get_args(SmallSample)

CONVENTION_TEXT: dict[str, str] = {
    "cr1": "cr1 (Stata-style): V x G/(G-1)*(n-1)/(n-K), fixed effects nested in the clusters not counted in K, t(G-1) reference",
    "linearmodels": "linearmodels debiased=True, auto_df=True: V x n/(n-K-E), absorbed effects counted unless one effect nested in the clusters, t(n-K-effects) reference",
    "none": "none: raw sandwich, no small-sample scaling, normal reference",
}

Direction = Literal["forward", "reverse", "placebo"]

# --------------------------------------------------------------------------- multiverse
MultiverseFamily = Literal["entity_fe", "twoway_fe", "first_difference", "mundlak", "random_effects", "pooled"]
"""Families the specification curve can vary over (``between`` has one row per trust and is left out)."""
MULTIVERSE_FAMILIES: tuple[str, ...] = get_args(MultiverseFamily)

Sample = Literal["all", "no_merged", "no_specialist", "balanced", "leave_one_year_out", "most_deprived_half",
                 "least_deprived_half"]
"""Estimation samples of the specification curve; ``leave_one_year_out`` expands to one sample per year."""
SAMPLES: tuple[str, ...] = get_args(Sample)
DEPRIVATION_SAMPLES: tuple[str, ...] = ("most_deprived_half", "least_deprived_half")
"""Samples split at the trusts' median catchment deprivation (``context.imd2019_score``); in the curve only
when ``multiverse.samples`` names them."""

SAMPLE_TEXT: dict[str, str] = {
    "all": "every linked trust-year",
    "no_merged": "without trusts formed by a merger",
    "no_specialist": "without acute specialist trusts",
    "balanced": "trusts observed in every year of the specification",
    "leave_one_year_out": "one survey year left out",
    "most_deprived_half": "trusts whose catchment is more deprived than the median (IMD 2019)",
    "least_deprived_half": "trusts whose catchment is as or less deprived than the median (IMD 2019)",
}

WeightChoice = Literal["none", "respondents"]
"""``none``: unweighted; ``respondents``: weighted by the base n of the dependent measure."""
WEIGHT_CHOICES: tuple[str, ...] = get_args(WeightChoice)

MultiverseCov = Literal["clustered_entity", "robust", "unadjusted"]
"""Covariances the fast engine computes (the clustered one is the default)."""
MULTIVERSE_COVS: tuple[str, ...] = get_args(MultiverseCov)

BootWeights = Literal["rademacher", "webb"]
"""Wild bootstrap weight distributions: Rademacher (+-1) and Webb's six-point distribution."""
BOOT_WEIGHTS: tuple[str, ...] = get_args(BootWeights)

BootKind = Literal["wcr", "wcu"]
"""Wild cluster bootstrap with the null imposed (restricted, WCR) or not (unrestricted, WCU)."""
BOOT_KINDS: tuple[str, ...] = get_args(BootKind)
