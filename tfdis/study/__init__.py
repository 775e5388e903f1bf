"""Studies: sweeps of families × hyperparameters × seeds × datasets.

``run_study(name, output_dir, num_workers=1, overwrite=False, **overrides)``
trains, exports, evaluates and visualises every model (each step idempotent),
runs UDR per (dataset, family) and writes the aggregated report. Presets:
``quickstart``, ``unsupervised_study_v1``, ``udr_study`` (``get_study``).
"""

from tfdis.study.presets import STUDIES, get_study, study_names
from tfdis.study.request import StudyRequest
from tfdis.study.runner import run_study, udr_groups
from tfdis.study.spec import ModelJob, StudySpec, UDRSettings, model_id

__all__ = ["run_study", "get_study", "study_names", "udr_groups", "STUDIES",
           "StudyRequest", "StudySpec", "ModelJob", "UDRSettings",
           "model_id"]
