"""Section ``model`` (stage ``model``): the panel models; see ``docs/models.md``."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, Field, model_validator

from ..vocab import FAMILIES, CovType, SmallSample, family_names
from ._base import KeyProblem, Section, refuse_empty, refuse_repeats
from .roundtrip import Choices


def known_family(feature: str | None = None):
    """A validator accepting the registered family names (those supporting ``feature``, if given)."""

    def check(name: str) -> str:
        allowed = family_names(feature)
        if name not in allowed:
            what = "a registered model family" if feature is None else f"a model family with a {feature} fit"
            listed = ", ".join(repr(a) for a in allowed[:-1]) + f" or {allowed[-1]!r}" if len(allowed) > 1 else repr(allowed[0])
            raise ValueError(f"not {what}; allowed values are {listed}")
        return name

    return check


#: A model family name, checked against the family registry (``linkage.vocab``) when validated,
#: so a registered family is accepted without editing this schema.
FamilyName = Annotated[str, AfterValidator(known_family()), Choices(family_names)]

#: Longest lag or lead (years) a model may use.
MAX_LAG = 5
Lag = Annotated[int, Field(ge=0, le=MAX_LAG)]
Lead = Annotated[int, Field(ge=1, le=MAX_LAG)]


class MultilevelParams(Section):
    """Multilevel model of the headline specification (``linkage.models.multilevel``; docs/models.md)."""

    enabled: bool = Field(True, description="Fit the multilevel model (trust-years within trusts within regions or ICBs) next to the panel families.")
    level: Literal["region", "icb"] = Field(
        "region",
        description="Upper level of the random intercepts: region (the NHS region from the ODS regions file or etr.csv) or icb (the integrated care board code from etr.csv).",
    )
    random_slope: bool = Field(
        False,
        description="Add a random slope of the exposure's within-trust deviation by trust, uncorrelated with the intercepts (lme4 (0 + x_within | trust)).",
    )
    method: Literal["reml", "ml"] = Field("reml", description="Estimation: reml (restricted maximum likelihood, the default of lme4) or ml (maximum likelihood).")
    min_groups: int = Field(
        5,
        ge=2,
        le=1000,
        description="Fewest regions (or ICBs) in the headline sample for a random effect at that level; fewer and the model is skipped with the count.",
    )


class SensitivityParams(Section):
    """Sensitivity of the headline to an unmeasured confounder (``linkage.models.sensitivity``)."""

    enabled: bool = Field(True, description="Compute the Cinelli-Hazlett robustness value and benchmark bounds for the headline.")
    kd: list[Annotated[float, Field(gt=0, le=10)]] = Field(
        default_factory=lambda: [1.0, 2.0, 3.0],
        description="Multiples of the strongest observed benchmark (the strongest covariate, else the year effects) for the bias-adjusted bounds (confounder kd times as strongly related to the exposure and to the outcome).",
    )

    @model_validator(mode="after")
    def _distinct(self) -> SensitivityParams:
        refuse_repeats("kd", self.kd)
        refuse_empty("kd", self.kd)
        return self


class RegionClusterParams(Section):
    """The headline clustered by NHS region (``linkage.models.region_cluster``)."""

    enabled: bool = Field(True, description="Also report the headline with standard errors clustered by NHS region and a restricted wild cluster bootstrap by region (the p-value to read with few regions).")
    bootstrap_reps: int = Field(
        9999, ge=99, le=99_999, description="Wild cluster bootstrap draws (Webb six-point weights by region; with 7 regions there are 6^7 distinct draws)."
    )
    few_clusters: int = Field(
        42, ge=2, le=1000, description="Fewer regions than this and the page reads the bootstrap p-value and interval rather than the cluster-robust t(G-1) one, which over-rejects with few clusters."
    )
    seed: int = Field(20260101, ge=0, le=2**32 - 1, description="Random seed of the region bootstrap's weights (same seed, same draws).")


class ModelParams(Section):
    """Choices of the panel models (stage ``model``); see ``docs/models.md``."""

    dependent: str = Field(
        "patient.ip_overall",
        description="Canonical measure used as the dependent variable of the headline model (patient experience at year t).",
    )
    exposure: str = Field(
        "staff.stress",
        description="Canonical staff wellbeing measure used as the headline regressor (at year t - lag).",
    )
    covariates: list[str] = Field(
        default_factory=list,
        description="Further measures entered as regressors at year t in every model (e.g. staff.engagement). Empty by default: adjusting for other staff measures can absorb the association of interest.",
    )
    families: list[FamilyName] = Field(
        default_factory=lambda: list(FAMILIES),
        description="Model families fitted for the headline specification: pooled, between, entity_fe, twoway_fe, random_effects, first_difference, mundlak. Other specifications (lags, reverse, placebo) use the headline family only.",
    )
    other_exposures: list[str] = Field(
        default_factory=lambda: ["staff.burnout", "staff.emotional_exhaustion", "staff.hwb_action", "staff.engagement"],
        description="Further staff wellbeing measures each fitted in place of the exposure with the headline family and lag (one model each, same dependent). A measure without enough within-trust data in the panel is listed as skipped with the reason. Intervals are not adjusted for testing several measures.",
    )
    headline_family: FamilyName = Field(
        "twoway_fe",
        description="Family whose estimate is the headline (metrics/headline.json); two-way fixed effects compare a trust with itself in other years, net of what is common to a year.",
    )
    time_effects: bool = Field(
        True,
        description="Include year effects (dummies) in pooled, random_effects, first_difference and mundlak, so that every family except entity_fe and between is net of year-common shifts.",
    )
    cov_type: CovType = Field(
        "clustered_entity",
        description="Standard errors: clustered_entity (by trust, default), clustered_twoway (trust and year), driscoll_kraay (cross-sectional and serial correlation, needs many years), robust (heteroskedasticity only), unadjusted (classical).",
    )
    small_sample: SmallSample = Field(
        "cr1",
        description="Small-sample convention applied to the covariance and the reference distribution: cr1 (Stata/reghdfe style: G/(G-1)*(n-1)/(n-K), fixed effects nested in the clusters not counted in K, t with G-1 df), linearmodels (linearmodels' debiased=True, auto_df=True: n/(n-K) with effects counted unless one effect nested in the clusters, t with n-K-effects df), none (no scaling, normal reference). Printed with every table.",
    )
    dk_bandwidth: int | None = Field(
        None,
        ge=0,
        le=50,
        description="Bartlett bandwidth of the Driscoll-Kraay covariance; null uses linearmodels' rule of thumb floor(4*(T/100)^(2/9)). Must be below the number of years.",
    )
    weights: str | None = Field(
        None,
        description="null: unweighted; respondents: weight each trust-year by the base n of the dependent measure (column '<dependent>__n'); or the name of any panel column used as the weight of every model: a declared measure (e.g. outcome.study_weight from a computed weight column) or a base column '<measure>__n'.",
    )
    lag: int = Field(
        0,
        ge=0,
        le=5,
        description="Lag k of the headline model: staff exposure at year t-k predicting patient experience at year t (calendar years, so a gap year gives no lagged value).",
    )
    lags: list[Lag] = Field(
        default_factory=lambda: [0, 1],
        description="Lags k examined with the headline family: forward (staff at t-k -> patient at t) for every k, reverse (patient at t-k -> staff at t) for every k >= 1. No same-year reverse model is fitted: with k = 0 it is the same partial correlation as the forward model, not a check of direction.",
    )
    reverse: bool = Field(
        True,
        description="Also fit the reverse direction: patient experience at t-k predicting the staff exposure at t, for each k >= 1 in lags (and the headline lag if it is >= 1).",
    )
    lagged_dependent: bool = Field(
        False,
        description="Also fit the headline model with the dependent at t-1 as a regressor (with trust effects this is subject to Nickell bias of order 1/T in short panels; a warning is issued).",
    )
    placebo_leads: list[Lead] = Field(
        default_factory=lambda: [1],
        description="Leads k for placebo models: staff exposure at t+k 'predicting' patient experience at t. These should be near zero if the forward association is not an artefact of shared trends.",
    )
    adjust_contemporaneous: Literal["no", "yes", "both"] = Field(
        "both",
        description="Lag, reverse-lag and placebo-lead models with the same measure at year t added as a regressor (distributed-lag form): 'no', 'yes', or 'both' (each model fitted with and without). With trust effects in a short panel, an unadjusted lag or lead coefficient absorbs roughly -1/(T-1) of any same-year association through the demeaning, so a non-zero unadjusted lag or placebo is not by itself evidence of precedence.",
    )
    alpha: float = Field(0.05, gt=0, lt=0.5, description="Two-sided significance level; confidence intervals have coverage 1 - alpha.")
    power: float = Field(0.8, gt=0.5, lt=1, description="Power for the minimum detectable effect (MDE = (q(1-alpha/2) + q(power)) * SE).")
    min_obs: int = Field(
        30,
        ge=3,
        le=1_000_000,
        description="Fewest usable trust-year observations a model may have after lags and missing values; fewer raises an error for the headline model and skips (with a warning) any other model.",
    )
    reliability_measures: list[str] | None = Field(
        None,
        description="Measures whose trust-level reliability is reported; null means the dependent, the exposure and the covariates.",
    )
    percent_measures: list[str] | None = Field(
        None,
        description="Measures on a 0-100 percent scale (sampling variance 100^2 p(1-p)/n); null detects them as measures with any value above 10. Others are treated as 0-10 scores.",
    )
    score_individual_sd: float = Field(
        2.0,
        gt=0,
        le=5,
        description="Assumed standard deviation of one respondent's answer on 0-10 score measures, used for their sampling variance sd^2/n in the reliability table (the published files do not give it).",
    )

    sesoi: float = Field(
        0.05,
        gt=0,
        le=1000,
        description="Smallest effect of interest for the equivalence test, in units of the dependent measure per typical within-trust change of the exposure (one within-trust SD). A link smaller than this is treated as negligible: TOST tests whether the headline slope lies inside +/- sesoi / (within-trust SD of the exposure). The default 0.05 points suits 0-10 patient experience scores; set it on the dependent's own scale for other outcomes.",
    )
    skip_gaps: Literal["label", "drop"] = Field(
        "label",
        description="Lag and lead specifications whose within-trust changes span a missing survey year (e.g. lag 1 pairing staff 2019->2021 changes with patient 2020->2022 changes when 2020 is absent): 'label' fits them and names the multi-year change in model_results.csv (change_gap_years, changes, timing); 'drop' skips them with the reason (an error if the headline has such a lag). Same-year (lag 0) specifications are always fitted; a gap in their years is named in the same columns.",
    )

    # RI-CLPM (models/riclpm): random-intercept cross-lagged panel model of the exposure and the dependent
    riclpm: bool = Field(
        True,
        description="Fit the random-intercept cross-lagged panel model (RI-CLPM) of the exposure and the dependent: stable trust differences separated from within-trust change, with lagged paths in both directions. Refused, with the reason, when the panel lacks enough equally spaced waves.",
    )
    riclpm_min_waves: int = Field(
        3,
        ge=3,
        le=30,
        description="Fewest equally spaced waves (years with both measures for at least riclpm_min_trusts_per_wave trusts) the RI-CLPM may use; fewer refuses it. Three is the least that identifies random intercepts with cross-lags.",
    )
    riclpm_min_trusts_per_wave: int = Field(
        50,
        ge=10,
        le=100_000,
        description="Fewest trusts with both the exposure and the dependent that a year needs to count as a wave of the RI-CLPM.",
    )
    riclpm_equal_paths: bool = Field(
        True,
        description="Constrain the RI-CLPM's autoregressive and cross-lagged paths to be equal over waves (true, the usual model); false estimates them per wave (the Wald tests then cover every wave's cross-lag).",
    )
    riclpm_unequal_gaps: Literal["longest_run", "refuse"] = Field(
        "longest_run",
        description="When the years that qualify as RI-CLPM waves are unequally spaced: 'longest_run' uses the longest run of equally spaced years (ties: the shortest step, then the latest years) and names the years set aside; 'refuse' refuses the model.",
    )

    multilevel: MultilevelParams = Field(default_factory=MultilevelParams, description="Multilevel model: trust-years within trusts within regions or ICBs.")
    sensitivity: SensitivityParams = Field(default_factory=SensitivityParams, description="Sensitivity of the headline to an unmeasured confounder.")
    region_cluster: RegionClusterParams = Field(default_factory=RegionClusterParams, description="The headline clustered by NHS region, with a wild cluster bootstrap.")

    @model_validator(mode="after")
    def _consistent(self) -> ModelParams:
        if self.exposure == self.dependent:
            raise KeyProblem("exposure", f"is the same measure as model.dependent ({self.exposure!r})")
        for i, c in enumerate(self.covariates):
            if c in (self.exposure, self.dependent):
                raise KeyProblem(("covariates", i), f"{c!r} repeats the exposure or the dependent")
        for key in ("families", "lags", "placebo_leads", "covariates", "other_exposures"):
            refuse_repeats(key, getattr(self, key))
        refuse_empty("families", self.families)
        if self.headline_family not in self.families:
            raise KeyProblem("headline_family", f"headline_family {self.headline_family!r} is not in families {list(self.families)}")
        if self.dependent in self.other_exposures:
            raise KeyProblem(("other_exposures", self.other_exposures.index(self.dependent)),
                             f"must not include the dependent ({self.dependent!r})")
        if self.lag not in self.lags:
            raise KeyProblem("lag", f"{self.lag} is not in model.lags {list(self.lags)}; add it there")
        return self
