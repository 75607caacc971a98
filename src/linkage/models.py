"""Stage ``model``: panel models of patient experience on staff wellbeing.

(Owned by the modelling work, issue #5.)
"""

from __future__ import annotations

from pydantic import Field

from .params import Section


class ModelParams(Section):
    dependent: str = Field("patient.ip_overall", description="Canonical measure used as the dependent variable of the headline model.")
    exposure: str = Field("staff.stress", description="Canonical staff wellbeing measure used as the headline regressor.")
