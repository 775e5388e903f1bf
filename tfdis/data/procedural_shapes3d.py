"""Procedural Shapes3D: a tiny ray-cast colour scene with the 3D Shapes factors.

Burgess & Kim 2018 (3D Shapes) have floor hue 10, wall hue 10, object hue 10
(hues linspace(0, 0.9, 10) on the colour circle), scale 8 (linspace(0.75, 1.25,
8)), shape 4 (cube, cylinder, sphere, capsule) and orientation 15
(linspace(-30°, 30°, 15)), 64×64×3 images, row-major in that order.

This is NOT the original data set: it is a simple offline stand-in in which
every factor visibly and independently changes the image:

* the camera orbits the object by ``orientation`` (as in 3D Shapes), so the
  room corner moves sideways, the cube and the lying capsule turn, and the
  world-fixed light moves across the sphere;
* the floor, the two walls and the object take their hues from the three hue
  factors (Lambertian shading keeps the scene readable);
* ``scale`` scales the object about its base on the floor.

Rendering follows the same "render once, compose vectorised" idea as
``procedural_dsprites``: the scene background is ray-cast once per orientation
(15 views) and each object once per (shape, scale, orientation) (480 sprites:
a mask plus a shading map, analytic ray/shape intersections on whole pixel
grids). An image is then a per-pixel blend of a few precomputed maps with three
colours, done for a whole batch of factor rows with numpy broadcasting — no
per-image Python loop.
"""

from __future__ import annotations

import colorsys
from typing import Optional, Sequence

import numpy as np

from tfdis.data.ground_truth import GroundTruthData
from tfdis.registry import check_choice

IMAGE_SIZE = 64
FACTOR_NAMES = ("floor_hue", "wall_hue", "object_hue", "scale", "shape",
                "orientation")
SHAPES = ("cube", "cylinder", "sphere", "capsule")

# Camera: perspective pinhole orbiting the object at this distance/elevation.
_CAM_DISTANCE = 3.0
_CAM_ELEVATION = np.deg2rad(10.0)
_CAM_TARGET = np.array([0.0, 0.7, 0.0])
_HALF_FOV_TAN = np.tan(np.deg2rad(21.0))
# Room: floor y = 0 and two walls meeting in a corner at z = _ROOM, x = 0
# (planes z - x = _ROOM and z + x = _ROOM), so turning the camera moves the
# corner across the image.
_ROOM = 3.5
_LIGHT = np.array([-0.3, 0.8, -0.9]) / np.linalg.norm([-0.3, 0.8, -0.9])
_AMBIENT = 0.3
# Half-extent of a scale-1 object in world units.
_UNIT = 0.5
_FAR = 1e9


def full_factor_values():
  hues = np.linspace(0.0, 0.9, 10)
  return (hues, hues.copy(), hues.copy(), np.linspace(0.75, 1.25, 8),
          np.arange(4), np.linspace(-30.0, 30.0, 15))


# Subsets (indices into the full values) of the small config used by tests and
# the quickstart: 3 * 3 * 3 * 4 * 4 * 5 = 2,160 images.
SMALL_INDICES = (np.array([0, 3, 6]), np.array([0, 3, 6]), np.array([0, 3, 6]),
                 np.array([0, 2, 5, 7]), np.arange(4),
                 np.array([0, 4, 7, 10, 14]))

CONFIGS = {
    "full": tuple(np.arange(n) for n in (10, 10, 10, 8, 4, 15)),
    "small": SMALL_INDICES,
}


def hue_to_rgb(hues: np.ndarray, saturation: float,
               value: float) -> np.ndarray:
  """float32 [n, 3] RGB colours of hues in [0, 1) on the colour circle."""
  return np.array([colorsys.hsv_to_rgb(float(h), saturation, value)
                   for h in np.ravel(hues)], dtype=np.float32).reshape(-1, 3)


def _camera_rays(angles_deg: np.ndarray):
  """Ray origins [V, 3] and unit directions [V, H*W, 3] for each orbit angle."""
  theta = np.deg2rad(np.asarray(angles_deg, dtype=np.float64))
  ce, se = np.cos(_CAM_ELEVATION), np.sin(_CAM_ELEVATION)
  fwd = np.stack([np.sin(theta) * ce, np.full_like(theta, -se),
                  np.cos(theta) * ce], axis=-1)
  right = np.stack([np.cos(theta), np.zeros_like(theta), -np.sin(theta)],
                   axis=-1)
  up = np.cross(fwd, right)
  origins = _CAM_TARGET - _CAM_DISTANCE * fwd
  # Pixel centres in [-1, 1]; image row 0 is the top.
  coords = (np.arange(IMAGE_SIZE) + 0.5) / IMAGE_SIZE * 2.0 - 1.0
  v, u = np.meshgrid(-coords, coords, indexing="ij")
  u = u.reshape(-1)[None, :, None] * _HALF_FOV_TAN
  v = v.reshape(-1)[None, :, None] * _HALF_FOV_TAN
  dirs = fwd[:, None] + u * right[:, None] + v * up[:, None]
  dirs /= np.linalg.norm(dirs, axis=-1, keepdims=True)
  return origins, dirs


def _lambert(normals: np.ndarray) -> np.ndarray:
  return _AMBIENT + (1 - _AMBIENT) * np.clip(normals @ _LIGHT, 0.0, 1.0)


def render_backgrounds(angles_deg: np.ndarray):
  """Floor and wall shading maps, float32 [V, H, W] each (0 off-surface)."""
  origins, dirs = _camera_rays(angles_deg)
  o = origins[:, None, :]
  with np.errstate(divide="ignore", invalid="ignore"):
    t_floor = np.where(dirs[..., 1] < 0, -o[..., 1] / dirs[..., 1], _FAR)
    # Plane z - x = R (left wall, normal pointing into the room (1, 0, -1)).
    den_l = dirs[..., 2] - dirs[..., 0]
    t_left = np.where(den_l > 0, (_ROOM - o[..., 2] + o[..., 0]) / den_l, _FAR)
    den_r = dirs[..., 2] + dirs[..., 0]
    t_right = np.where(den_r > 0, (_ROOM - o[..., 2] - o[..., 0]) / den_r,
                       _FAR)
  t_wall = np.minimum(t_left, t_right)
  is_floor = t_floor < t_wall
  shade_left = _lambert(np.array([1.0, 0.0, -1.0]) / np.sqrt(2.0))
  shade_right = _lambert(np.array([-1.0, 0.0, -1.0]) / np.sqrt(2.0))
  wall = np.where(t_left < t_right, shade_left, shade_right)
  # The floor darkens with distance, a depth cue that also shows the turn.
  floor = _lambert(np.array([0.0, 1.0, 0.0])) * np.clip(
      1.15 - 0.06 * t_floor, 0.55, 1.0)
  shape = (len(origins), IMAGE_SIZE, IMAGE_SIZE)
  return (np.where(is_floor, floor, 0.0).reshape(shape).astype(np.float32),
          np.where(is_floor, 0.0, wall).reshape(shape).astype(np.float32))


def _nearest(t_a, n_a, t_b, n_b):
  closer = t_b < t_a
  return np.where(closer, t_b, t_a), np.where(closer[..., None], n_b, n_a)


def _hit_sphere(o, d, centre, radius):
  """Ray/sphere: t (``_FAR`` on a miss) and unit normals."""
  oc = o - centre
  b = np.sum(oc * d, axis=-1)
  c = np.sum(oc * oc, axis=-1) - radius ** 2
  disc = b * b - c
  t = np.where(disc >= 0, -b - np.sqrt(np.maximum(disc, 0.0)), _FAR)
  t = np.where(t > 0, t, _FAR)
  normals = (o + t[..., None] * d - centre) / radius[..., None]
  return t, normals


def _hit_box(o, d, half):
  """Ray/box [-h, h] x [0, 2h] x [-h, h] (slab method)."""
  lo = np.stack([-half, np.zeros_like(half), -half], axis=-1)
  hi = np.stack([half, 2 * half, half], axis=-1)
  with np.errstate(divide="ignore", invalid="ignore"):
    inv = 1.0 / d
    t0 = (lo - o) * inv
    t1 = (hi - o) * inv
  t_near = np.minimum(t0, t1)
  t_far = np.maximum(t0, t1)
  t_enter = t_near.max(axis=-1)
  t_exit = t_far.min(axis=-1)
  hit = (t_enter <= t_exit) & (t_enter > 0)
  axis = t_near.argmax(axis=-1)
  d = np.broadcast_to(d, lo.shape)
  normals = np.zeros(lo.shape)
  sign = -np.sign(np.take_along_axis(d, axis[..., None], axis=-1))[..., 0]
  np.put_along_axis(normals, axis[..., None], sign[..., None], axis=-1)
  return np.where(hit, t_enter, _FAR), normals


def _hit_cylinder_y(o, d, radius, height):
  """Upright cylinder x²+z² <= r², 0 <= y <= height, with its top cap."""
  a = d[..., 0] ** 2 + d[..., 2] ** 2
  b = o[..., 0] * d[..., 0] + o[..., 2] * d[..., 2]
  c = o[..., 0] ** 2 + o[..., 2] ** 2 - radius ** 2
  disc = b * b - a * c
  with np.errstate(divide="ignore", invalid="ignore"):
    t_side = (-b - np.sqrt(np.maximum(disc, 0.0))) / a
    y = o[..., 1] + t_side * d[..., 1]
    t_side = np.where((disc >= 0) & (t_side > 0) & (y >= 0) & (y <= height),
                      t_side, _FAR)
    n_side = np.stack([o[..., 0] + t_side * d[..., 0], np.zeros_like(t_side),
                       o[..., 2] + t_side * d[..., 2]], axis=-1)
    n_side /= radius[..., None]
    t_cap = (height - o[..., 1]) / d[..., 1]
  px = o[..., 0] + t_cap * d[..., 0]
  pz = o[..., 2] + t_cap * d[..., 2]
  t_cap = np.where((t_cap > 0) & (px * px + pz * pz <= radius ** 2), t_cap,
                   _FAR)
  n_cap = np.broadcast_to(np.array([0.0, 1.0, 0.0]), n_side.shape)
  return _nearest(t_side, n_side, t_cap, n_cap)


def _hit_capsule_x(o, d, radius, half_length):
  """Capsule lying along x on the floor: a cylinder plus two end spheres."""
  yc = radius  # axis height: the capsule rests on the floor
  oy = o[..., 1] - yc
  a = d[..., 1] ** 2 + d[..., 2] ** 2
  b = oy * d[..., 1] + o[..., 2] * d[..., 2]
  c = oy ** 2 + o[..., 2] ** 2 - radius ** 2
  disc = b * b - a * c
  with np.errstate(divide="ignore", invalid="ignore"):
    t = (-b - np.sqrt(np.maximum(disc, 0.0))) / a
  x = o[..., 0] + t * d[..., 0]
  t = np.where((disc >= 0) & (t > 0) & (np.abs(x) <= half_length), t, _FAR)
  normals = np.stack([np.zeros_like(t), oy + t * d[..., 1],
                      o[..., 2] + t * d[..., 2]], axis=-1) / radius[..., None]
  for sign in (-1.0, 1.0):
    centre = np.stack([sign * half_length, yc, np.zeros_like(yc)], axis=-1)
    t_s, n_s = _hit_sphere(o, d, centre, radius)
    t, normals = _nearest(t, normals, t_s, n_s)
  return t, normals


def render_objects(shape_id: int, scales: np.ndarray, angles_deg: np.ndarray):
  """Object mask (bool) and shading (float32) maps [S, V, H, W] for one shape."""
  origins, dirs = _camera_rays(angles_deg)
  o = origins[None, :, None, :]  # [1, V, 1, 3]
  d = dirs[None]  # [1, V, P, 3]
  s = np.asarray(scales, dtype=np.float64)[:, None, None]  # [S, 1, 1]
  size = _UNIT * s
  full = (len(s), len(origins), dirs.shape[1])
  if shape_id == 0:  # cube
    t, n = _hit_box(o, d, np.broadcast_to(0.8 * size, full))
  elif shape_id == 1:  # upright cylinder
    t, n = _hit_cylinder_y(o, d, np.broadcast_to(0.8 * size, full),
                           np.broadcast_to(1.8 * size, full))
  elif shape_id == 2:  # sphere resting on the floor
    r = np.broadcast_to(size, full)
    centre = np.stack([np.zeros(full), r, np.zeros(full)], axis=-1)
    t, n = _hit_sphere(o, d, centre, r)
  elif shape_id == 3:  # capsule (pill) lying on its side
    t, n = _hit_capsule_x(o, d, np.broadcast_to(0.55 * size, full),
                          np.broadcast_to(0.85 * size, full))
  else:
    raise ValueError(f"shape must be in 0..3 ({SHAPES}), got {shape_id}")
  mask = t < _FAR
  shade = np.where(mask, _lambert(n), 0.0)
  out_shape = full[:2] + (IMAGE_SIZE, IMAGE_SIZE)
  return mask.reshape(out_shape), shade.reshape(out_shape).astype(np.float32)


class ProceduralShapes3D(GroundTruthData):
  """3D Shapes factors rendered on demand (``config`` 'full' or 'small').

  ``factor_subsets`` overrides the config with explicit index subsets of the
  full factor values (one array per factor).
  """

  factor_names = FACTOR_NAMES
  observation_shape = (IMAGE_SIZE, IMAGE_SIZE, 3)
  observations_are_deterministic = True

  def __init__(self, config: str = "full",
               factor_subsets: Optional[Sequence[Sequence[int]]] = None):
    if factor_subsets is None:
      check_choice("procedural_shapes3d config", config, sorted(CONFIGS),
                   error=ValueError)  # get_dataset names the options
      factor_subsets = CONFIGS[config]
    if len(factor_subsets) != len(FACTOR_NAMES):
      raise ValueError(f"factor_subsets needs one index array per factor "
                       f"{FACTOR_NAMES}, got {len(factor_subsets)}")
    self.config = config
    self.name = ("procedural_shapes3d" if config == "full" else
                 f"procedural_shapes3d_{config}")
    self.subsets = tuple(np.asarray(s, dtype=np.int64) for s in factor_subsets)
    full = full_factor_values()
    for name, s, v in zip(FACTOR_NAMES, self.subsets, full):
      if s.ndim != 1 or not len(s) or s.min() < 0 or s.max() >= len(v):
        raise ValueError(f"factor_subsets[{name}] must be a non-empty list of "
                         f"indices in [0, {len(v)}), got {s.tolist()}")
    self.factor_values = tuple(v[s] for v, s in zip(full, self.subsets))
    self.factor_sizes = tuple(len(s) for s in self.subsets)
    self._floor_rgb = hue_to_rgb(self.factor_values[0], 0.55, 0.95)
    self._wall_rgb = hue_to_rgb(self.factor_values[1], 0.55, 0.95)
    self._object_rgb = hue_to_rgb(self.factor_values[2], 0.85, 1.0)
    angles = self.factor_values[5]
    self._floor, self._wall = render_backgrounds(angles)
    masks, shades = [], []
    for shape_id in self.factor_values[4]:
      mask, shade = render_objects(int(shape_id), self.factor_values[3], angles)
      masks.append(mask)
      shades.append(shade)
    # Every pixel shows one surface (0 floor, 1 wall, 2 object) with a shade
    # in [0, 1]. Per sprite (shape, scale, orientation; row-major) we store the
    # surface and the 8-bit shade of each pixel; a colour look-up table
    # [surface, hue, shade] -> RGB then turns a batch of factor rows into
    # images with integer gathers only (no float image temporaries).
    mask = np.stack(masks, axis=1)  # [scale, shape, orientation, H, W]
    shade = np.stack(shades, axis=1)
    background = np.where(self._floor > 0, self._floor, self._wall)
    surface = np.where(mask, 2, np.where(self._floor > 0, 0, 1))
    shade = np.where(mask, shade, background)
    n_sprites = int(np.prod(mask.shape[:3]))
    self._local = (surface.reshape(n_sprites, -1).astype(np.int32) * 256 +
                   np.round(shade.reshape(n_sprites, -1) * 255).astype(
                       np.int32))
    num_hues = max(self.factor_sizes[:3])
    rgb = np.zeros((3, num_hues, 3), np.float32)
    for k, table in enumerate((self._floor_rgb, self._wall_rgb,
                               self._object_rgb)):
      rgb[k, :len(table)] = table
    levels = np.arange(256, dtype=np.float32) / 255.0
    lut = rgb[:, :, None, :] * levels[:, None]  # [surface, hue, shade, RGB]
    # One 3-byte record per RGB colour, so a gather moves whole pixels.
    self._lut = np.ascontiguousarray(np.round(lut * 255.0).astype(np.uint8))

  def images_from_factors(self, factors, random_state=None, chunk: int = 8192):
    factors = np.asarray(factors, dtype=np.int64)
    out = np.empty((len(factors),) + self.observation_shape, np.uint8)
    pixel = np.dtype((np.void, 3))
    flat_out = out.reshape(len(factors), -1, 3).view(pixel)[..., 0]
    for start in range(0, len(factors), chunk):  # bounds index temporaries
      f = factors[start:start + chunk]
      n = len(f)
      sprite = (f[:, 3] * self.factor_sizes[4] + f[:, 4]) * self.factor_sizes[
          5] + f[:, 5]
      # This image's [surface, shade] -> RGB table: rows of the global LUT.
      lut = self._lut[np.arange(3)[None, :], f[:, :3]]  # [n, 3, 256, 3]
      lut = lut.reshape(-1, 3).view(pixel)[:, 0]
      index = self._local[sprite]
      index += (np.arange(n, dtype=np.int32) * (3 * 256))[:, None]
      flat_out[start:start + n] = lut[index]
    return out

  def render_all(self, chunk: int = 16384) -> np.ndarray:
    """The whole grid as uint8 [N, 64, 64, 3], row-major."""
    out = np.empty((self.num_examples,) + self.observation_shape, np.uint8)
    for start in range(0, self.num_examples, chunk):
      index = np.arange(start, min(start + chunk, self.num_examples))
      out[start:start + len(index)] = self.images_from_indices(index)
    return out
