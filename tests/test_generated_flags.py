"""tfdis_udr, tfdis_study and tfdis_rpu's report flags come from specs.

In-process, on a fresh ``FlagValues``: the flags generated from
``UDRConfig``, ``StudyRequest`` and ``RPUReportSpec`` parse back into the
spec with the values given (UDR's alpha as a number or 'cv', a repeated
``--baseline`` whose items hold commas, the study overrides as
``get_study`` keywords), and unset flags keep the specs' defaults (UDR's
published settings, written once in ``UDRSpec``).
"""

import pytest
from absl import flags

from tfdis import config_flags


def _parse(spec_cls, *argv):
  fv = flags.FlagValues()
  config_flags.define_config_flags(spec_cls, flag_values=fv)
  fv(["prog", *argv])
  return config_flags.config_from_flags(spec_cls, flag_values=fv)


def test_udr_flags_parse_into_udr_config_with_udr_defaults():
  from tfdis.udr.spec import UDRConfig, UDRSpec

  config = _parse(UDRConfig, "--model_dirs=a,b", "--output_dir=o").validate()
  assert config.model_dirs == ("a", "b") and config.output_dir == "o"
  assert config.udr_spec() == UDRSpec()
  assert (UDRSpec().mode, UDRSpec().correlation, UDRSpec().alpha,
          UDRSpec().num_data_points, UDRSpec().kl_filter_threshold,
          UDRSpec().aggregation) == ("hyper", "lasso", 0.1, 10000, 0.01,
                                     "relative_strength")
  config = _parse(UDRConfig, "--model_dirs=a,b", "--output_dir=o",
                  "--alpha=cv", "--mode=a2a", "--num_pairs=3",
                  "--nofilter_low_kl", "--dataset=procedural_dsprites_small")
  config.validate()
  assert (config.alpha, config.mode, config.num_pairs, config.filter_low_kl,
          config.dataset) == ("cv", "a2a", 3, False,
                              "procedural_dsprites_small")
  assert _parse(UDRConfig, "--model_dirs=a,b", "--output_dir=o",
                "--alpha=0.5").alpha == 0.5
  with pytest.raises(ValueError, match="alpha must be a positive number"):
    _parse(UDRConfig, "--model_dirs=a,b", "--output_dir=o",
           "--alpha=0").validate()


def test_run_udr_study_keywords_are_udr_spec_fields():
  from tfdis.udr.study import run_udr_study
  from tfdis.udr.spec import UDRSpec

  with pytest.raises(TypeError, match="num_datapoints"):
    run_udr_study(["a", "b"], "o", num_datapoints=10)
  with pytest.raises(TypeError, match="must be a UDRSpec"):
    run_udr_study(["a", "b"], "o", "a2a")
  with pytest.raises(ValueError, match="Unknown mode 'pairs'"):
    run_udr_study(["a", "b"], "o", UDRSpec(), mode="pairs")


def test_study_flags_are_get_study_overrides():
  from tfdis.study import StudyRequest, get_study

  request = _parse(StudyRequest, "--study=quickstart").validate()
  assert request.overrides() == {} and request.study_dir() == (
      "runs/quickstart")
  request = _parse(
      StudyRequest, "--study=quickstart", "--output_dir=x", "--steps=5",
      "--seeds=2", "--metrics=none", "--noudr", "--novisualize",
      '--sweep={"beta_vae": [{"beta": 2}]}', "--udr_num_data_points=40")
  request.validate()
  overrides = request.overrides()
  assert overrides == {"steps": 5, "seeds": 2, "metrics": [], "udr": (),
                       "visualize": False, "udr_num_data_points": 40,
                       "sweep": {"beta_vae": [{"beta": 2}]}}
  spec = get_study("quickstart", **overrides)
  assert spec.train["steps"] == 5 and spec.seeds == (0, 1)
  assert spec.udr == () and spec.metrics == () and not spec.visualize
  with pytest.raises(ValueError, match="sweep must map each family"):
    _parse(StudyRequest, "--study=quickstart",
           '--sweep={"beta_vae": {"beta": 2}}').validate()


def test_rpu_report_flags_repeat_baseline():
  from tfdis.rpu.report_spec import RPUReportSpec

  report = _parse(RPUReportSpec).validate()
  assert (report.report, report.baselines(), report.report_num_train,
          report.report_num_test) == (True, {}, 10000, 5000)
  report = _parse(RPUReportSpec, "--baseline=beta_tcvae=r/m1,r/m2",
                  "--baseline=pbt=r/p", "--report_num_train=200",
                  "--noreport").validate()
  assert report.baselines() == {"beta_tcvae": ["r/m1", "r/m2"],
                                "pbt": ["r/p"]}
  assert (report.report, report.report_num_train) == (False, 200)
  with pytest.raises(ValueError, match="use NAME=DIR"):
    _parse(RPUReportSpec, "--baseline=r/m1").validate()
