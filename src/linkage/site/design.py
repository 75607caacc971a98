"""The headline model as it was fitted, in words: design, weights, sample, measures and their sources.

Every sentence of the site that describes the model takes its words from a
:class:`Design`, which is read from the pipeline's outputs (``headline.json``,
``model_results.csv``, ``linkage.json``, the panel, the measure catalogue) and
the run's parameters - never from what the default configuration would be.
So a pooled, weighted regression of a mortality ratio without trust or year
effects is never described as "comparing each trust with itself" or as
"better patient experience".
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..vocab import EFFECT_KIND, FAMILY_DESIGN, FAMILY_YEAR_EFFECTS, UNIT_TEXT
from .words import and_list, base_measure, lower_first, short_label

TRUST_TYPE_TEXT = {
    "acute": "acute trusts",
    "acute_specialist": "acute specialist trusts",
    "mental_health": "mental health trusts",
    "community": "community trusts",
    "ambulance": "ambulance trusts",
    "non_trust": "organisations that are not trusts",
    "unknown": "organisations of unknown type",
}

#: Who answered a survey measure of each role (an outcome such as a mortality ratio has no respondents).
ROLE_PEOPLE = {"staff": "staff", "patient": "patients"}

#: The source of a measure declared in the project's own measures file (``data.measures_file``).
OWN_DATA = "the project's own data files"

#: Publisher of the packaged layouts, by the start of the layout id.
PUBLISHERS = (("nss", "NHS Staff Survey"), ("cqc_inpatient", "CQC Adult Inpatient Survey"))


@dataclass(frozen=True)
class MeasureWords:
    """One measure of the headline model, as the sentences name it.

    Attributes
    ----------
    name, label, role, unit
        Catalogue name, label, role (``staff``, ``patient``, ``outcome``) and scale.
    higher_is_better : bool or None
        Direction from the catalogue or the project's measures file.
    source : str
        Where its values were read from, named from the catalogue entry that read them.
    """

    name: str
    label: str
    role: str
    unit: str
    higher_is_better: bool | None
    source: str

    @property
    def quoted(self) -> str:
        """The label in quotes, as used inside sentences."""
        return f"“{self.label}”"

    @property
    def people(self) -> str:
        """Who answered (``staff``, ``patients``), or '' for an outcome without respondents."""
        return ROLE_PEOPLE.get(self.role, "")

    @property
    def is_survey(self) -> bool:
        """Whether the values are survey results (with respondents and sampling error)."""
        return bool(self.people)

    def unit_words(self, n: float = 2) -> str:
        """The unit in words, plural unless ``n`` is 1."""
        unit = UNIT_TEXT.get(self.unit, "unit")
        return unit if abs(n) == 1 else _plural(unit)

    def better(self, up: bool) -> str:
        """'better' / 'worse' for a rise (``up``) or fall, or 'higher' / 'lower' when the direction is unknown."""
        if self.higher_is_better is None:
            return "higher" if up else "lower"
        return "better" if up == self.higher_is_better else "worse"

    @property
    def direction_text(self) -> str:
        """'higher is better', 'lower is better' or 'no better or worse direction'."""
        if self.higher_is_better is None:
            return "no better or worse direction is set"
        return "higher is better" if self.higher_is_better else "lower is better"


def _plural(unit: str) -> str:
    head, sep, tail = unit.partition(" (")
    return f"{head}s{sep}{tail}" if sep else unit + "s"


@dataclass(frozen=True)
class Design:
    """What the headline model did, read from the run's outputs.

    Attributes
    ----------
    family : str
        Model family fitted (``twoway_fe``, ``pooled``...).
    trust_effects : str
        ``within`` (each trust compared with itself), ``mixed`` (random effects:
        within and between pooled) or ``none`` (lasting differences between trusts kept).
    year_effects : bool or None
        Whether what all trusts shared in a year was taken out (None: not known).
    weights : str
        ``none``, ``respondents`` or the weight column's measure name.
    cov_type, small_sample : str
        Covariance actually used and the small-sample convention.
    restricted : bool or None
        Whether the sample was restricted to ``trust_types`` (None: not known).
    trust_types : tuple of str
        The types the sample was restricted to, or the registry types of the
        trusts in the model's sample when it was not restricted.
    exposure, outcome : MeasureWords
    """

    family: str
    trust_effects: str
    year_effects: bool | None
    weights: str
    cov_type: str
    small_sample: str
    restricted: bool | None
    trust_types: tuple[str, ...]
    exposure: MeasureWords
    outcome: MeasureWords

    @property
    def within(self) -> bool:
        """Whether the estimate uses only changes within each trust over time."""
        return self.trust_effects == "within"

    @property
    def patient_experience(self) -> bool:
        """Whether the outcome is a patient experience measure (role ``patient``)."""
        return self.outcome.role == "patient"

    @property
    def clustered(self) -> bool:
        """Whether the standard errors are cluster-robust."""
        return self.cov_type.startswith("clustered")

    def comparison(self) -> str:
        """What the model compares, as a clause that can follow 'The model ...'."""
        years = {True: "; what all trusts shared in a year (national events, survey changes) is taken out",
                 False: "; nothing shared by all trusts in a year is taken out (no year effects)",
                 None: ""}[self.year_effects]
        # the family's own design prose, from its registry entry; an unknown family is said as pooled
        how = FAMILY_DESIGN.get(self.family, FAMILY_DESIGN["pooled"])
        return how + years

    def weights_text(self, label: Any = None) -> str:
        """How trust-years were weighted, in words (``label`` names a weight measure)."""
        if self.weights in ("none", "", None):
            return "each trust-year counts equally (no weights)"
        if self.weights == "respondents":
            who = self.outcome.people or "respondents"
            return f"each trust-year is weighted by the number of {who} who answered ({self.outcome.quoted})"
        name = label(self.weights) if label else self.weights
        return f"each trust-year is weighted by “{short_label(name)}”"

    def sample_text(self) -> str:
        """The trust types in the sample, and whether the sample was restricted to them."""
        types = and_list(TRUST_TYPE_TEXT.get(t, f"{t} trusts") for t in self.trust_types)
        if self.restricted:
            return f"restricted to {types}" if types else "restricted by trust type"
        if self.restricted is False:
            found = f"; by registry type they are {types}" if types else ""
            return f"every organisation in the files read, not restricted by trust type{found}"
        return types

    def outcome_phrase(self) -> str:
        """'patient experience' or the outcome's label in lower case."""
        return "patient experience" if self.patient_experience else lower_first(short_label(self.outcome.label))


def measure_words(catalogue: Any, name: str) -> MeasureWords:
    """:class:`MeasureWords` of ``name`` (lag prefixes removed) from the catalogue; the name itself when unknown."""
    m = catalogue.measures.get(base_measure(name))
    if m is None:
        return MeasureWords(name, name, "staff" if name.startswith("staff.") else "outcome", "", None,
                            "an unknown source")
    return MeasureWords(m.name, m.label, m.kind, m.unit, m.higher_is_better, source_of(catalogue, m))


def source_of(catalogue: Any, measure: Any) -> str:
    """Where a measure's values come from, named from the catalogue entries that read it.

    A packaged measure names its publisher's survey (from its layouts); a
    measure declared in the project's own measures file names that file.
    """
    names = []
    for src in measure.sources:
        lid = str(src.layout)
        pub = next((p for prefix, p in PUBLISHERS if lid.startswith(prefix)), None)
        if pub is None:
            pub = str((getattr(catalogue, "layouts", {}) or {}).get(lid, {}).get("title") or lid)
        names.append(pub)
    names = list(dict.fromkeys(names))
    if names:
        return and_list(names)
    return OWN_DATA


def site_title(headline: dict[str, Any], catalogue: Any) -> str:
    """The site's title: what the headline model relates (patient experience unless the outcome is another one)."""
    dependent = headline.get("dependent")
    if not dependent:
        return "Staff wellbeing and patient experience"
    y = measure_words(catalogue, str(dependent))
    if y.role == "patient":
        return "Staff wellbeing and patient experience"
    return f"Staff wellbeing and {lower_first(short_label(y.label))}"


def report_title(title: str, default: str, headline: dict[str, Any], catalogue: Any) -> str:
    """``report.title``, or, when it is the default question and the outcome is not patient experience, that
    question asked of the outcome actually modelled."""
    if title != default or not headline.get("dependent"):
        return title
    y = measure_words(catalogue, str(headline["dependent"]))
    if y.role == "patient":
        return title
    return title.replace("patient experience", f"the {lower_first(short_label(y.label))}")


def sources_read(headline: dict[str, Any], catalogue: Any) -> str:
    """The sources of the headline measures, named from the catalogue (``''`` without a headline)."""
    names = [measure_words(catalogue, str(headline[k])).source for k in ("exposure", "dependent") if headline.get(k)]
    return and_list(dict.fromkeys(names))


def _year_terms(family: str, time_effects: bool) -> bool:
    """Whether ``family`` fitted with ``time_effects`` takes out year effects (its registry entry's
    ``year_effects``; tests/test_site_words.py checks it against the model definitions)."""
    rule = FAMILY_YEAR_EFFECTS.get(family, "optional")
    return rule == "always" or (rule == "optional" and bool(time_effects))


def _param(inputs: Any, section: str, key: str) -> Any:
    params = getattr(inputs, "params", None)
    part = getattr(params, section, None) if params is not None else None
    return getattr(part, key, None) if part is not None else None


def design_of(inputs: Any, family: str | None = None) -> Design:
    """The :class:`Design` of the headline model (or of ``family`` on the headline specification)."""
    h = inputs.headline
    family = str(family or h.get("family", ""))
    time_effects = h.get("time_effects", _param(inputs, "model", "time_effects"))
    year = None if time_effects is None or family not in EFFECT_KIND else _year_terms(family, bool(time_effects))
    if FAMILY_YEAR_EFFECTS.get(family, "optional") != "optional":
        year = _year_terms(family, False)
    restricted = h.get("restrict_trust_types", inputs.linkage.get("restrict_trust_types",
                                                                 _param(inputs, "link", "restrict_trust_types")))
    if restricted:
        types = tuple(inputs.linkage.get("trust_types") or _param(inputs, "link", "trust_types") or ())
    else:
        types = _sample_types(inputs)
    cov = _fitted_cov(inputs, family) or str(h.get("cov_type", ""))
    return Design(
        family=family, trust_effects={"within": "within", "mixed": "mixed"}.get(EFFECT_KIND.get(family, ""), "none"),
        year_effects=year, weights=str(h.get("weights") or "none"), cov_type=cov,
        small_sample=str(h.get("small_sample", "")), restricted=None if restricted is None else bool(restricted),
        trust_types=types, exposure=measure_words(inputs.catalogue, str(h.get("exposure", ""))),
        outcome=measure_words(inputs.catalogue, str(h.get("dependent", ""))))


def _fitted_cov(inputs: Any, family: str) -> str:
    """The covariance the headline specification actually used under ``family`` (after any fallback)."""
    res = inputs.results
    if res is None or res.empty or "cov_type" not in res:
        return ""
    # plain loops over a few dozen rows: pandas' boolean indexing costs more than the work (called per sentence)
    spec = next((s for s, h in zip(res["spec_name"], res["headline"], strict=True) if str(h).lower() == "true"), None)
    return next((str(c) for m, s, c in zip(res["model"], res["spec_name"], res["cov_type"], strict=True)
                 if m == family and s == spec), "")


def _sample_types(inputs: Any) -> tuple[str, ...]:
    """Registry types of the trusts with both headline measures, in the catalogue's type order."""
    panel = inputs.panel
    x, y = inputs.headline.get("exposure"), inputs.headline.get("dependent")
    if "trust_type" not in panel or x not in panel or y not in panel:
        return ()
    found = set(panel.loc[panel[x].notna() & panel[y].notna(), "trust_type"].astype(str))
    return tuple(t for t in TRUST_TYPE_TEXT if t in found) + tuple(sorted(found - set(TRUST_TYPE_TEXT)))
