"""Writes dummy_data/img_align_celeba.zip: 3 JPEGs of 178×218 (official size).

Same layout as the official archive (``img_align_celeba/000001.jpg`` ...);
the "faces" are flat ellipses so the archive stays a few KB.

Run from the repository root: python -m tfds_builders.celeba.make_dummy_data
"""

import io
import os
import zipfile

import numpy as np
from PIL import Image


def make(path: str) -> None:
  os.makedirs(os.path.dirname(path), exist_ok=True)
  yy, xx = np.mgrid[0:218, 0:178]
  with zipfile.ZipFile(path, "w") as archive:
    for i in range(3):
      face = ((yy - 109) / 60.0) ** 2 + ((xx - 89) / (35.0 + 5 * i)) ** 2 < 1
      image = np.stack([face * 220, face * (150 + 30 * i), face * 120 + 30],
                       -1).astype(np.uint8)
      buffer = io.BytesIO()
      Image.fromarray(image).save(buffer, format="JPEG", quality=70)
      archive.writestr(f"img_align_celeba/{i + 1:06d}.jpg", buffer.getvalue())


if __name__ == "__main__":
  make(os.path.join(os.path.dirname(os.path.abspath(__file__)), "dummy_data",
                    "img_align_celeba.zip"))
