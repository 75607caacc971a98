"""Allowed values and their plain-language labels, defined once.

Every closed set of choices the workbench knows (data sources, survey kinds,
measure scales, trust types, model families, covariance estimators, small-sample
conventions) is a ``Literal`` type here, with its tuple of values derived from
it and, where people read it, one label per value.  The params schema, the
readers, the linkage, the models and the reports all import from here.

This module is part of the foundation: it imports nothing from the package.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal, get_args

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
@dataclass(frozen=True)
class FamilyEntry:
    """One model family: everything the workbench needs to know about it, in one place.

    The descriptive part (name, label, effect kind, design prose, year effects, what it
    supports) is plain data, so the params schema and the site read it without importing
    estimation code.  The two fitters are domain objects: the built-in families get theirs
    attached when their estimation modules are imported (:func:`attach_fitters`); a new family
    passes them to :func:`register_family` with the rest of its entry.

    Attributes
    ----------
    name : str
        Key used in params.yaml (``model.families``, ``multiverse.families``) and in the results.
    label : str
        Short label of tables and charts (``trust fixed effects``).
    effect : {'pooled', 'between', 'within', 'mixed'}
        Which variation the slope uses (between trusts, within trusts, or both).
    design : str
        What the model compares, as a clause that can follow "The model ..." on the site.
    year_effects : {'optional', 'always', 'never'}
        ``always``: the estimator absorbs year effects whatever ``time_effects`` says;
        ``never``: it fits none; ``optional``: year dummies when ``time_effects`` is true.
    supports : frozenset of str
        Specifications it can serve, from :data:`FAMILY_FEATURES`; ``curve`` = a batched fitter
        for the specification curve.
    default : bool
        Listed in the default ``model.families`` / ``multiverse.families``.
    short : str
        Name in running text lists ("two-way fixed effects, first differences and Mundlak"); the label if empty.
    fit : object or None
        One-specification fitter of the model stage (a ``linkage.models._fit.FamilyModel``).
    batch : callable or None
        Batched fitter of the curve: ``(block, time_effects) -> linkage.multiverse._families.FamilyFit``.
    """

    name: str
    label: str
    effect: str
    design: str
    year_effects: str = "optional"
    supports: frozenset[str] = frozenset()
    default: bool = True
    short: str = ""
    fit: Any = field(default=None, compare=False, repr=False)
    batch: Any = field(default=None, compare=False, repr=False)


FAMILY_FEATURES: tuple[str, ...] = ("lags", "reverse", "placebo", "weights", "covariates", "curve", "curve_moderator")
"""What a family entry may support: lagged exposures, reverse and placebo specifications,
weights, covariates, the batched fit of the specification curve, and a moderator in that curve
(``curve_moderator``: the batched transformation is one linear map applied to every column alike,
so an exposure x moderator column can be transformed with the exposure; random effects and
Mundlak are not, as their quasi-demeaning and trust means depend on the exposure)."""

EffectKind = Literal["pooled", "between", "within", "mixed"]
_ALL = frozenset(FAMILY_FEATURES)
_WITHIN_PROSE = "compares each trust with itself in other years, so lasting differences between trusts are taken out"
_REGISTRY: dict[str, FamilyEntry] = {
    e.name: e
    for e in (
        FamilyEntry("between", "between (trust means)", "between",
                    "compares trusts' averages over the years with each other, so lasting differences between "
                    "trusts are not taken out", "never", _ALL - {"curve", "curve_moderator"}, short="between"),
        FamilyEntry("pooled", "pooled OLS (+ year effects)", "pooled",
                    "compares all trust-years with each other (pooled), so lasting differences between trusts are "
                    "not taken out", "optional", _ALL, short="pooled OLS"),
        FamilyEntry("random_effects", "random effects (+ year effects)", "mixed",
                    "pools differences within trusts over time with differences between trusts (random effects), "
                    "so lasting differences between trusts are only partly taken out", "optional", _ALL - {"curve_moderator"},
                    short="random effects"),
        FamilyEntry("mundlak", "correlated random effects (Mundlak)", "within", _WITHIN_PROSE, "optional",
                    _ALL - {"curve_moderator"}, short="Mundlak"),
        FamilyEntry("entity_fe", "trust fixed effects", "within", _WITHIN_PROSE, "never", _ALL, short="trust fixed effects"),
        FamilyEntry("twoway_fe", "trust and year fixed effects", "within", _WITHIN_PROSE, "always", _ALL, short="two-way fixed effects"),
        FamilyEntry("first_difference", "first differences (+ year effects)", "within",
                    "compares each trust's change from one survey year to the next with other trusts' changes, so "
                    "lasting differences between trusts are taken out", "optional", _ALL, short="first differences"),
    )
}
"""The family registry, in display order (from the cross-sectional comparison to the within-trust designs)."""

_BUILT_IN: frozenset[str] = frozenset(_REGISTRY)
_MODEL_ORDER = ("pooled", "between", "entity_fe", "twoway_fe", "random_effects", "first_difference", "mundlak")


def register_family(entry: FamilyEntry) -> FamilyEntry:
    """Add a new family (its whole entry, fitters included); refused if the name is taken or the entry is incomplete."""
    if entry.name in _REGISTRY:
        raise ValueError(f"model family {entry.name!r} is already registered")
    if entry.effect not in get_args(EffectKind) or entry.year_effects not in ("optional", "always", "never"):
        raise ValueError(f"model family {entry.name!r}: effect must be one of {get_args(EffectKind)} and "
                         "year_effects one of optional/always/never")
    unknown = set(entry.supports) - set(FAMILY_FEATURES)
    if unknown:
        raise ValueError(f"model family {entry.name!r}: unknown features {sorted(unknown)}")
    if entry.fit is None or ("curve" in entry.supports and entry.batch is None):
        raise ValueError(f"model family {entry.name!r}: give its fitter (fit) and, for the curve, its batched fitter")
    _REGISTRY[entry.name] = entry
    return entry


def unregister_family(name: str) -> None:
    """Remove a family added by :func:`register_family` (the built-in families cannot be removed)."""
    if name in _BUILT_IN:
        raise ValueError(f"model family {name!r} is built in")
    _REGISTRY.pop(name, None)


def attach_fitters(name: str, *, fit: Any = None, batch: Any = None) -> None:
    """Attach the fitters of a built-in family (called by the estimation modules that define them)."""
    e = _REGISTRY[name]
    _REGISTRY[name] = replace(e, fit=e.fit if fit is None else fit, batch=e.batch if batch is None else batch)


def family_entry(name: str) -> FamilyEntry:
    """The registry entry of ``name`` (``KeyError`` naming the known families if unknown)."""
    try:
        return _REGISTRY[name]
    except KeyError:
        raise KeyError(f"unknown model family {name!r}; known: {sorted(_REGISTRY)}") from None


def family_names(feature: str | None = None) -> tuple[str, ...]:
    """Every registered family (display order), or those supporting ``feature``."""
    return tuple(n for n, e in _REGISTRY.items() if feature is None or feature in e.supports)


class _Derived(Mapping):
    """A read-only view of one attribute of every registered family (follows registrations)."""

    def __init__(self, attr: str) -> None:
        self._attr = attr

    def __getitem__(self, name: str) -> Any:
        e = _REGISTRY[name]
        return (e.short or e.label) if self._attr == "short" else getattr(e, self._attr)

    def __iter__(self) -> Iterator[str]:
        return iter(tuple(_REGISTRY))

    def __len__(self) -> int:
        return len(_REGISTRY)


class _Order(Sequence):
    """The registered family names in display order (follows registrations)."""

    def __getitem__(self, i):  # type: ignore[override]
        return tuple(_REGISTRY)[i]

    def __len__(self) -> int:
        return len(_REGISTRY)


Family = Literal["pooled", "between", "entity_fe", "twoway_fe", "random_effects", "first_difference", "mundlak"]
"""The built-in families (a type hint; the params schema validates names against the registry)."""
FAMILIES: tuple[str, ...] = tuple(n for n in _MODEL_ORDER if _REGISTRY[n].default)
"""Default ``model.families`` (the built-in families, in the model stage's order)."""
FAMILY_TEXT: Mapping[str, str] = _Derived("label")
FAMILY_SHORT: Mapping[str, str] = _Derived("short")
"""Each family's name in running text (lists of designs)."""
FAMILY_DESIGN: Mapping[str, str] = _Derived("design")
"""What each family compares, as a clause for "The model ..." (the site's design prose)."""
FAMILY_ORDER: Sequence[str] = _Order()
"""Display order: from the cross-sectional comparison to the within-trust designs (registered families last)."""
EFFECT_KIND: Mapping[str, str] = _Derived("effect")
"""Which variation each family uses (between trusts, within trusts, or both)."""
FAMILY_YEAR_EFFECTS: Mapping[str, str] = _Derived("year_effects")
"""Whether each family's year effects are ``always`` in, ``never`` in, or ``optional`` (``time_effects``)."""

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
"""Built-in families of the specification curve (``between`` has one row per trust and is left out)."""
MULTIVERSE_FAMILIES: tuple[str, ...] = tuple(
    n for n in get_args(MultiverseFamily) if "curve" in _REGISTRY[n].supports and _REGISTRY[n].default
)
"""Default ``multiverse.families``; any registered family supporting ``curve`` may be listed."""

Sample = Literal["all", "no_merged", "no_specialist", "balanced", "leave_one_year_out", "most_deprived_half",
                 "least_deprived_half"]
"""Estimation samples of the specification curve; ``leave_one_year_out`` expands to one sample per year."""
SAMPLES: tuple[str, ...] = get_args(Sample)
DEPRIVATION_SAMPLES: tuple[str, ...] = ("most_deprived_half", "least_deprived_half")
"""Samples split at the trusts' median catchment deprivation (``context.imd2019_score``); in the curve only
when ``multiverse.samples`` names them."""

Moderator = Literal["none", "deprivation"]
"""Moderator choices of the specification curve: ``none``, or ``deprivation`` (exposure x catchment
deprivation, ``context.imd2019_score`` centred on the fitted trusts' mean, added to the model)."""
MODERATORS: tuple[str, ...] = get_args(Moderator)
MODERATOR_COLUMN: dict[str, str] = {"deprivation": "context.imd2019_score"}
"""Panel column of each moderator choice other than ``none``."""

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
