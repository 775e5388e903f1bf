"""tfdis_evaluate, tfdis_visualize and tfdis_aggregate: flags from specs.

Each binary's flags are generated from its spec (``EvaluateSpec``,
``VisualizeSpec``, ``AggregateSpec``; ``tfdis.config_flags``). Checked here:
flags -> spec -> to_dict -> from_dict gives the same spec; object flags take
key=value like tfdis_train's (``--dataset_options=num_factors=2,...``);
a bad value of every enum flag is refused in one line (exit 2); the specs
import and validate without TensorFlow; --flagfile still works. Scoring with
``--dataset_options=k=v`` is in test_evaluate_cli.py (it needs a model).
"""

import json
import os
import subprocess
import sys

import pytest
from absl import flags

from tfdis import config_flags
from tfdis.aggregate_spec import AggregateSpec
from tfdis.evaluate_spec import EvaluateSpec
from tfdis.errors import UserError
from tfdis.visualize_spec import VisualizeSpec

from helpers_cli import REPO, cli_env as _env, run_binary


def _run(binary, *args):
  return run_binary(binary, *args, timeout=120)


def _one_line_error(proc, prog):
  assert proc.returncode == 2, (proc.returncode, proc.stderr[-3000:])
  assert "Traceback" not in proc.stderr
  lines = [l for l in proc.stderr.splitlines()
           if l.startswith(f"{prog}: error: ")]
  assert len(lines) == 1, proc.stderr
  return lines[0][len(f"{prog}: error: "):]


def _fake_models(root, names=("m0", "m1")):
  """Directories that pass the SavedModel checks (no loading happens)."""
  for name in names:
    os.makedirs(os.path.join(root, name, "saved_model"))
    open(os.path.join(root, name, "saved_model", "saved_model.pb"),
         "wb").close()
  return [os.path.join(root, n) for n in names]


def _from_flags(spec_cls, argv):
  """The spec an argv gives, through the binary's generated flags."""
  fv = flags.FlagValues()
  config_flags.define_config_flags(spec_cls, flag_values=fv)
  fv(["prog", *argv])
  return config_flags.config_from_flags(spec_cls, flag_values=fv).validate()


def _round_trip(spec):
  again = type(spec).from_dict(json.loads(json.dumps(spec.to_dict())))
  assert again == spec
  return again


def test_evaluate_spec_round_trip(tmp_path):
  m0, m1 = _fake_models(str(tmp_path))
  spec = _from_flags(EvaluateSpec, [
      f"--model_dirs={m0},{tmp_path}/m*", "--metrics=mig,dci",
      "--representation=sampled", "--dataset=identity",
      "--dataset_options=num_factors=3,num_values=4",
      "--metric_params=num_train=500", "--seed=7", "--sklearn_compat=dlib",
      "--cache_encodings=off", "--notensorboard_hparams", "--overwrite"])
  assert spec == EvaluateSpec(
      model_dirs=(m0, f"{tmp_path}/m*"), metrics=("mig", "dci"),
      representation="sampled", dataset="identity",
      dataset_options={"num_factors": 3, "num_values": 4},
      metric_params={"num_train": 500}, seed=7, sklearn_compat="dlib",
      cache_encodings="off", tensorboard_hparams=False, overwrite=True)
  assert spec.model_dir_list() == [m0, m1]  # the glob adds m1 once
  _round_trip(spec)
  # The same request as JSON object flags (the form the old flags took).
  assert _from_flags(EvaluateSpec, [
      f"--model_dirs={m0},{tmp_path}/m*", "--metrics=mig,dci",
      "--representation=sampled", "--dataset=identity",
      '--dataset_options={"num_factors": 3, "num_values": 4}',
      '--metric_params={"num_train": 500}', "--seed=7",
      "--sklearn_compat=dlib", "--cache_encodings=off",
      "--notensorboard_hparams", "--overwrite"]) == spec
  # The library's forms (a comma string, lists) are the same spec.
  assert EvaluateSpec(model_dirs=f"{m0},{tmp_path}/m*", metrics="mig,dci",
                      representation="sampled", dataset="identity",
                      dataset_options={"num_factors": 3, "num_values": 4},
                      metric_params={"num_train": 500}, seed=7,
                      sklearn_compat="dlib", cache_encodings="off",
                      tensorboard_hparams=False, overwrite=True) == spec
  assert EvaluateSpec(model_dirs=[m0], metrics=["mig"]) == EvaluateSpec(
      model_dirs=(m0,), metrics=("mig",))
  # Defaults: a file holding only model_dirs loads with every default.
  spec = _from_flags(EvaluateSpec, [f"--model_dirs={m0}"])
  assert spec == EvaluateSpec.from_dict({"model_dirs": [m0]})
  assert (spec.metrics, spec.dataset, spec.dataset_options,
          spec.metric_params, spec.cache_encodings) == (
              ("all",), "auto", {}, {}, "disk")
  _round_trip(spec)


def test_visualize_and_aggregate_spec_round_trip(tmp_path):
  (m0,) = _fake_models(str(tmp_path), ("m0",))
  spec = _from_flags(VisualizeSpec, [
      f"--model_dir={m0}", f"--output_dir={tmp_path}/o", "--num_images=4",
      "--num_traversals=0", "--num_animations=1", "--num_frames=2",
      "--gif_layout=per_latent", "--seed=3"])
  assert spec == VisualizeSpec(
      model_dir=m0, output_dir=f"{tmp_path}/o", num_images=4,
      num_traversals=0, num_animations=1, num_frames=2,
      gif_layout="per_latent", seed=3)
  _round_trip(spec)
  spec = _from_flags(VisualizeSpec, [
      "--dataset=procedural_dsprites", "--dataset_options=config=small",
      f"--output_dir={tmp_path}/o"])
  assert (spec.dataset, spec.dataset_options) == (
      "procedural_dsprites", {"config": "small"})
  _round_trip(spec)
  spec = _from_flags(AggregateSpec, [
      f"--root={tmp_path}", f"--output_dir={tmp_path}/r", "--noplots",
      "--title=My sweep"])
  assert spec == AggregateSpec(root=str(tmp_path), output_dir=f"{tmp_path}/r",
                               plots=False, report=True, title="My sweep")
  _round_trip(spec)


def test_enum_choices_are_the_library_ones():
  from tfdis.evaluate_spec import SKLEARN_COMPAT_MODES
  from tfdis.metrics.classifiers import SKLEARN_COMPAT_MODES as library_modes

  assert SKLEARN_COMPAT_MODES == library_modes


def test_spec_checks_refuse_bad_requests(tmp_path):
  (m0,) = _fake_models(str(tmp_path), ("m0",))
  cases = [
      (EvaluateSpec(model_dirs=(str(tmp_path),)), "is not a SavedModel"),
      (EvaluateSpec(model_dirs=(m0,), metrics=("mgi",)),
       "Unknown metric 'mgi'. Did you mean 'mig'?"),
      (EvaluateSpec(model_dirs=(m0,), metrics=("mig",),
                    metric_params={"bins": 3}),
       "metric_params: metric parameter 'bins' is taken by none"),
      (EvaluateSpec(model_dirs=(m0,), metric_params="bins"),
       "metric_params must be a JSON object or key=value"),
      (EvaluateSpec(model_dirs=(m0,), dataset="identiy"),
       "Unknown dataset 'identiy'. Did you mean 'identity'? Known dataset "
       "values: auto, "),
      (EvaluateSpec(model_dirs=(m0,), dataset="identity",
                    dataset_options={"factr": 3}),
       "dataset 'identity' has no option(s) ['factr']"),
      (EvaluateSpec(model_dirs=(m0,), seed=-1),
       "seed must be an integer in [0, 2147483647], got -1"),
      (EvaluateSpec(model_dirs=(m0,), representation="median"),
       "Unknown representation 'median'. Did you mean 'mean'? Known "
       "representation values: mean, sampled."),
      (EvaluateSpec(model_dirs=(m0,), sklearn_compat="0.21"),
       "Unknown sklearn_compat '0.21'. Known sklearn_compat values: current, "
       "dlib."),
      (EvaluateSpec(model_dirs=(m0,), cache_encodings="ram"),
       "Unknown cache_encodings 'ram'."),
      (VisualizeSpec(model_dir=m0, dataset="identity"),
       "Give exactly one of --model_dir"),
      (VisualizeSpec(dataset="identity"), "Dataset mode needs --output_dir."),
      (VisualizeSpec(model_dir=m0, num_images=0),
       "num_images must be an integer in [1, 2147483647], got 0"),
      (VisualizeSpec(model_dir=m0, num_frames=2 ** 31),
       "num_frames must be an integer in [1, 2147483647]"),
      (VisualizeSpec(model_dir=m0, gif_layout="grid"),
       "Unknown gif_layout 'grid'. Known gif_layout values: all, per_latent."),
      (VisualizeSpec(dataset="identity", output_dir=str(tmp_path),
                     dataset_options={"k": 1}),
       "dataset 'identity' has no option(s) ['k']"),
      (AggregateSpec(root=str(tmp_path / "nope")),
       "--root must be an existing directory"),
  ]
  for spec, message in cases:
    with pytest.raises(ValueError) as err:  # ConfigError and the UserErrors
      spec.validate()
    assert message in str(err.value), (spec, str(err.value))
  with pytest.raises(UserError, match=r"field\(s\) \['metrix'\]"):
    EvaluateSpec.from_dict({"model_dirs": [m0], "metrix": ["mig"]})


def test_dataset_options_key_value_reaches_the_dataset(tmp_path):
  """--dataset_options=k=v (tfdis_train's syntax) works in tfdis_visualize:
  the identity dataset with num_factors=2 draws exactly two factors (its
  default is 10)."""
  out = tmp_path / "vis"
  proc = _run("visualize", "--dataset=identity",
              "--dataset_options=num_factors=2,num_values=3",
              f"--output_dir={out}")
  assert proc.returncode == 0, proc.stderr[-3000:]
  assert sorted(os.listdir(out)) == ["factor_0.gif", "factor_0.png",
                                     "factor_1.gif", "factor_1.png",
                                     "overview.png"]
  # In tfdis_evaluate the key=value form is parsed (an unknown key is named)
  # before any model is loaded; scoring with it: test_evaluate_cli.py.
  (m0,) = _fake_models(str(tmp_path), ("m0",))
  out = _one_line_error(_run("evaluate", f"--model_dirs={m0}",
                             "--dataset=identity",
                             "--dataset_options=num_factors=2,numvalues=3"),
                        "tfdis_evaluate")
  assert out.startswith("dataset 'identity' has no option(s) ['numvalues']")


@pytest.mark.parametrize("binary,flag", [
    ("evaluate", "representation"), ("evaluate", "sklearn_compat"),
    ("evaluate", "cache_encodings"), ("visualize", "gif_layout")])
def test_bad_enum_values_are_one_line_errors(binary, flag, tmp_path):
  (m0,) = _fake_models(str(tmp_path), ("m0",))
  base = ([f"--model_dirs={m0}"] if binary == "evaluate" else
          [f"--model_dir={m0}", f"--output_dir={tmp_path}/o"])
  out = _one_line_error(_run(binary, *base, f"--{flag}=no_such_value"),
                        f"tfdis_{binary}")
  assert out.startswith(f"flag --{flag}=no_such_value: value should be one "
                        "of <"), out
  assert os.listdir(tmp_path) == ["m0"]  # nothing written


def test_specs_validate_without_tensorflow(tmp_path):
  (m0,) = _fake_models(str(tmp_path), ("m0",))
  code = (
      "import sys\n"
      "from tfdis.aggregate_spec import AggregateSpec\n"
      "from tfdis.evaluate_spec import EvaluateSpec\n"
      "from tfdis.visualize_spec import VisualizeSpec\n"
      f"EvaluateSpec(model_dirs=({m0!r},), metrics=('mig',), "
      "metric_params={'num_train': 5}).validate()\n"
      f"VisualizeSpec(model_dir={m0!r}).validate()\n"
      f"VisualizeSpec(dataset='identity', output_dir={str(tmp_path)!r})"
      ".validate()\n"
      f"AggregateSpec(root={str(tmp_path)!r}).validate()\n"
      "assert 'tensorflow' not in sys.modules\n"
      "print('ok')\n")
  proc = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=_env(),
                        capture_output=True, text=True, timeout=120)
  assert proc.returncode == 0, proc.stderr[-3000:]
  assert proc.stdout.strip() == "ok"


def test_flagfile_and_help_list_the_spec_flags(tmp_path):
  flagfile = tmp_path / "aggregate.flags"
  flagfile.write_text(f"--root={tmp_path}\n--noplots\n--noreport\n")
  proc = _run("aggregate", f"--flagfile={flagfile}")
  assert proc.returncode == 0, proc.stderr[-3000:]
  assert (tmp_path / "results.csv").is_file()
  assert not (tmp_path / "report.html").exists()  # --noreport was read
  # --help lists the binary's own (generated) flags, not only absl's.
  helped = _run("aggregate", "--help")
  for name in ("--root", "--output_dir", "--[no]plots", "--[no]report",
               "--title"):
    assert name in helped.stdout, name
