"""Staff-patient experience linkage workbench.

Joins NHS Staff Survey results with CQC patient experience measures by trust and
survey year and fits panel models asking whether staff wellbeing *predicts*
patient experience within trusts over time.  Nothing here establishes causation.
"""

__version__ = "0.1.0"
