"""What a notebook stage's own process loads: the step page module, not the site builder, and no pandas.

The kernel imports pandas and the stage's domain code; the parent process only checks params.yaml,
drives papermill and renders the step page.  Loading the site builder or pandas there cost seconds of
CPU per stage (and made every site module a dependency of every stage).  A fresh interpreter does what
``linkage stage NAME`` does before the notebook runs, and reports the modules it loaded.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

_CODE = """
import json, sys
from linkage import runner
from linkage.params import load_params
from linkage.site import page, steps
load_params("params.yaml")
runner._skip_iri_grammar()
import nbconvert, papermill
print(json.dumps(sorted(sys.modules)))
"""


def test_the_stage_process_loads_neither_pandas_nor_the_site_builder():
    out = subprocess.run([sys.executable, "-c", _CODE], capture_output=True, text=True, check=True, cwd=REPO,
                         timeout=300)
    loaded = set(json.loads(out.stdout))
    assert {"linkage.site.page", "linkage.catalogue", "papermill", "nbconvert"} <= loaded  # the reference saw them
    assert "pandas" not in loaded and "matplotlib" not in loaded
    assert not {m for m in loaded if m.startswith("linkage.site.") and m.split(".")[2] in
                ("build", "summary", "trusts", "charts", "inputs", "findings")}
