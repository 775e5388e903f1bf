"""Procedural dSprites and Shapes3D: factor values, indexing, rendering."""

import numpy as np
import pytest

from tfdis.data import get_dataset
from tfdis.data.procedural_dsprites import ProceduralDSprites
from tfdis.data.procedural_shapes3d import ProceduralShapes3D


@pytest.fixture(scope="module")
def shapes3d():
  return ProceduralShapes3D("full")


def test_dsprites_full_has_the_official_factor_values():
  data = ProceduralDSprites("full")
  assert data.factor_sizes == (3, 6, 40, 32, 32)
  assert data.num_examples == 737_280
  np.testing.assert_allclose(data.factor_values[1], np.linspace(0.5, 1, 6))
  np.testing.assert_allclose(data.factor_values[2],
                             np.linspace(0, 2 * np.pi, 40))
  np.testing.assert_allclose(data.factor_values[3], np.linspace(0, 1, 32))


def test_shapes3d_full_has_the_official_factor_values(shapes3d):
  assert shapes3d.factor_sizes == (10, 10, 10, 8, 4, 15)
  assert shapes3d.num_examples == 480_000
  np.testing.assert_allclose(shapes3d.factor_values[0], np.arange(10) / 10)
  np.testing.assert_allclose(shapes3d.factor_values[3],
                             np.linspace(0.75, 1.25, 8))
  np.testing.assert_allclose(shapes3d.factor_values[5],
                             np.linspace(-30, 30, 15))


@pytest.mark.parametrize("name", ["procedural_dsprites_small",
                                  "procedural_shapes3d_small",
                                  "procedural_shapes3d"])
def test_row_major_index_round_trip(name, rng):
  data = get_dataset(name)
  index = rng.randint(0, data.num_examples, size=500)
  factors = data.index_to_factors(index)
  np.testing.assert_array_equal(data.factors_to_index(factors), index)
  # Row-major: the last factor varies fastest.
  first = data.index_to_factors(np.arange(2))
  assert (first[1] - first[0]).tolist() == [0] * (data.num_factors - 1) + [1]


def test_dsprites_images_binary_and_sprite_inside_the_frame():
  data = ProceduralDSprites("full")
  # Largest sprites at the extreme positions, all orientations and shapes.
  grid = np.stack(np.meshgrid([0, 1, 2], [5], np.arange(40), [0, 31], [0, 31],
                              indexing="ij"), -1).reshape(-1, 5)
  images = data.images_from_factors(grid)
  assert images.dtype == np.uint8 and images.shape[1:] == (64, 64, 1)
  assert set(np.unique(images)) <= {0, 255}
  border = np.concatenate([images[:, 0], images[:, -1], images[:, :, 0],
                           images[:, :, -1]], axis=1)
  assert border.max() == 0, "a sprite touches the frame"
  assert (images.reshape(len(images), -1).max(1) == 255).all()


def test_sampling_is_deterministic_given_a_seed():
  for name in ("procedural_dsprites_small", "procedural_shapes3d_small"):
    data = get_dataset(name)
    f1, x1 = data.sample(20, np.random.RandomState(3))
    f2, x2 = data.sample(20, np.random.RandomState(3))
    np.testing.assert_array_equal(f1, f2)
    np.testing.assert_array_equal(x1, x2)
    assert x1.dtype == np.float32 and 0 <= x1.min() and x1.max() <= 1
    f3, _ = data.sample(20, np.random.default_rng(3))
    assert f3.shape == f1.shape


def test_shapes3d_each_factor_changes_the_image_on_its_own(shapes3d, rng):
  base = shapes3d.sample_factors(30, rng)
  images = shapes3d.images_from_factors(base).astype(np.int32)
  assert images.shape[1:] == (64, 64, 3) and images.min() >= 0
  for k, size in enumerate(shapes3d.factor_sizes):
    changed = base.copy()
    changed[:, k] = (changed[:, k] + 1 + rng.randint(0, size - 1, 30)) % size
    other = shapes3d.images_from_factors(changed).astype(np.int32)
    diff = np.abs(other - images).reshape(30, -1)
    # Visible: many pixels change by more than a few levels, in every image.
    assert ((diff > 8).sum(axis=1) >= 20).all(), shapes3d.factor_names[k]


def test_shapes3d_factors_change_different_regions(shapes3d):
  base = np.array([[2, 6, 0, 4, 0, 7]])
  reference = shapes3d.images_from_factors(base).astype(np.int32)

  def changed_pixels(k, value):
    f = base.copy()
    f[0, k] = value
    delta = np.abs(shapes3d.images_from_factors(f).astype(np.int32) -
                   reference)
    return delta.max(-1)[0] > 8

  floor, wall, obj = changed_pixels(0, 5), changed_pixels(1, 1), \
      changed_pixels(2, 5)
  assert floor.any() and wall.any() and obj.any()
  assert not (floor & wall).any() and not (floor & obj).any() and not (
      wall & obj).any()
  # The floor is below the walls.
  assert np.nonzero(floor)[0].mean() > np.nonzero(wall)[0].mean()


def test_bad_config_and_subsets_fail_clearly():
  with pytest.raises(ValueError, match="known"):
    ProceduralShapes3D("tiny")
  with pytest.raises(ValueError, match="orientation"):
    ProceduralShapes3D(factor_subsets=[[0]] * 5 + [[15]])
