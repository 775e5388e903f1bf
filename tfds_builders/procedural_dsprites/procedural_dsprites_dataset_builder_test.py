"""Builds procedural_dsprites/small (sequential and parallel workers)."""

import numpy as np
import pytest

from tfdis.data.procedural_dsprites import ProceduralDSprites
from tfds_builders import _testing
from tfds_builders.procedural_dsprites import (
    procedural_dsprites_dataset_builder as module)


def test_build_small_matches_the_renderer(tmp_path):
  builder = _testing.build(module.Builder, tmp_path, config="small")
  data = _testing.check_build(builder, 2304)
  expected = ProceduralDSprites("small")
  np.testing.assert_array_equal(
      data["image"], expected.images_from_indices(np.arange(2304)))
  np.testing.assert_array_equal(np.unique(data["value_shape"]), [1, 2, 3])
  np.testing.assert_allclose(np.unique(data["value_scale"]),
                             expected.factor_values[1])
  assert builder.info.features["label_shape"].names == [
      "square", "ellipse", "heart"]


@pytest.mark.slow  # two worker subprocesses, each importing TensorFlow
def test_parallel_workers_write_the_same_rows(tmp_path):
  builder = module.Builder(config="small", data_dir=str(tmp_path))
  builder.num_workers = 2
  builder.min_parallel_rows = 0  # force the parallel path on 2,304 rows
  builder.download_and_prepare()
  assert len(builder.info.splits["train"].shard_lengths) >= 2
  data = _testing.check_build(builder, 2304)
  np.testing.assert_array_equal(
      data["image"], ProceduralDSprites("small").images_from_indices(
          np.arange(2304)))
  assert not (builder.data_path / "_parallel_parts").exists()


def test_full_config_has_the_official_grid():
  builder = module.Builder(config="full", data_dir="/nonexistent")
  sizes = [builder.info.features[f"label_{n}"].num_classes
           for n in builder.info.metadata["factor_names"]]
  assert sizes == [3, 6, 40, 32, 32]
