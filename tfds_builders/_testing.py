"""A small equivalent of ``tfds.testing.DatasetBuilderTestCase`` for pytest.

TFDS's test case needs ``dill`` (not in our pinned environment), so the
builder tests use these helpers instead: build a builder from its
``dummy_data/`` (passed as the manual directory; nothing touches the network),
then check what DatasetBuilderTestCase checks that matters here — the number
of examples, feature dtypes/shapes, that a fresh builder reloads the prepared
data — plus the tfdis contract: labels in range and rows in row-major factor
order, and a clear error naming every missing manual file.
"""

from __future__ import annotations

import os
from typing import Optional

from etils import epath
import numpy as np
import tensorflow_datasets as tfds

from tfds_builders import _common
from tfds_builders import _download


def dummy_dir(builder_cls) -> epath.Path:
  return builder_cls.code_path.parent / "dummy_data"


def build(builder_cls, data_dir, config=None, manual_dir=None,
          sources: Optional[_download.Sources] = None):
  """Builds from the manual directory (default ``dummy_data/``), offline.

  ``sources`` defaults to no download, no mirror, no dlib folder and no
  hashing (the dummy files are not the official ones; the environment is
  ignored, so a user's ``$DISENTANGLEMENT_LIB_DATA`` does not leak into the
  tests).
  """
  builder = builder_cls(config=config, data_dir=os.fspath(data_dir))
  builder.tfdis_sources = sources or _download.Sources(download=False,
                                                       verify=False)
  builder.download_and_prepare(download_config=tfds.download.DownloadConfig(
      manual_dir=os.fspath(manual_dir or dummy_dir(builder_cls)),
      compute_stats=tfds.download.ComputeStatsMode.SKIP,
      try_download_gcs=False))
  return builder


def read_all(builder) -> dict:
  ds = builder.as_dataset(split="train", batch_size=-1, shuffle_files=False)
  return tfds.as_numpy(ds)


def check_build(builder, num_examples: int, row_major: bool = True) -> dict:
  """Asserts the build's contract; returns all examples as numpy arrays."""
  info = builder.info
  assert info.splits["train"].num_examples == num_examples, (
      info.splits["train"].num_examples, num_examples)
  data = read_all(builder)
  image = data["image"]
  assert image.dtype == np.uint8, image.dtype
  assert image.shape == (num_examples,) + tuple(
      info.features["image"].shape), image.shape
  factors = list(info.metadata.get("factor_names", []))
  labels = []
  for name in factors:
    label = data[f"label_{name}"]
    assert label.min() >= 0
    assert label.max() < info.features[f"label_{name}"].num_classes
    assert data[f"value_{name}"].dtype == np.float32
    labels.append(label.astype(np.int64))
  if factors and row_major:
    sizes = np.array([info.features[f"label_{n}"].num_classes
                      for n in factors])
    strides = np.concatenate([np.cumprod(sizes[::-1])[::-1][1:], [1]])
    index = np.stack(labels, 1) @ strides
    assert (np.diff(index) > 0).all(), "rows are not in row-major order"
  # A fresh builder on the same data_dir reloads the prepared dataset.
  again = type(builder)(config=builder.builder_config,
                        data_dir=os.fspath(builder.data_dir_root))
  assert again.is_prepared()
  assert again.info.splits["train"].num_examples == num_examples
  return data


def check_missing_files(builder_cls, data_dir, config=None,
                        expected: Optional[dict] = None) -> str:
  """Builds with an empty manual dir; asserts the error names every file."""
  manual = epath.Path(data_dir) / "empty_manual"
  manual.mkdir(parents=True, exist_ok=True)
  try:
    build(builder_cls, epath.Path(data_dir) / "data", config=config,
          manual_dir=manual)
  except _common.ManualFileMissingError as e:
    message = str(e)
  else:
    raise AssertionError("building without the official files did not fail")
  files = expected if expected is not None else builder_cls.MANUAL_FILES
  if callable(files):
    files = files(builder_cls(config=config, data_dir=os.fspath(
        data_dir)).builder_config)
  for name, source in files.items():
    assert name in message and source in message, (name, source, message)
  assert os.fspath(manual) in message and "--manual_dir" in message, message
  return message


class FileServer:
  """Serves a folder over HTTP on 127.0.0.1 (a free port) from a thread.

  Stands in for the internet in the download tests (no mocks of TFDS: its
  download manager talks to this server through ``requests``).
  ``truncate[name] = k`` cuts the next k responses for ``name`` short: the
  full Content-Length is announced, half the bytes are sent, the connection
  is closed (an interrupted download). ``requests`` lists the GET paths.
  """

  def __init__(self, root):
    import functools  # pylint: disable=g-import-not-at-top
    import http.server  # pylint: disable=g-import-not-at-top
    import threading  # pylint: disable=g-import-not-at-top

    self.root = os.fspath(root)
    self.truncate = {}
    self.requests = []
    server = self

    class Handler(http.server.SimpleHTTPRequestHandler):

      def log_message(self, *args):  # quiet
        pass

      def do_GET(self):  # pylint: disable=invalid-name
        name = self.path.lstrip("/").split("?")[0]
        server.requests.append(self.path)
        if server.truncate.get(name, 0) > 0:
          server.truncate[name] -= 1
          path = os.path.join(server.root, name)
          with open(path, "rb") as f:
            data = f.read()
          self.send_response(200)
          self.send_header("Content-Type", "application/octet-stream")
          self.send_header("Content-Length", str(len(data)))
          self.end_headers()
          self.wfile.write(data[:len(data) // 2])
          self.wfile.flush()
          self.close_connection = True
          return
        super().do_GET()

    self._httpd = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(Handler, directory=self.root))
    self.url = f"http://127.0.0.1:{self._httpd.server_address[1]}"
    self._thread = threading.Thread(target=self._httpd.serve_forever,
                                    daemon=True)
    self._thread.start()

  def close(self) -> None:
    if self._thread is None:
      return
    self._httpd.shutdown()
    self._httpd.server_close()
    self._thread.join(timeout=10)
    self._thread = None


def write_registry(path, files: dict) -> str:
  """A checksums.tsv (TFDS's format) of {official URL: local file}.

  The tests' own registry of their dummy files (``Sources.checksums_file``
  / ``$TFDIS_DATASET_CHECKSUMS``): the builders' checksums.tsv holds the real
  files' values, which the dummies do not match.
  """
  lines = []
  for url, file in files.items():
    digest = _download.file_digests(file)
    lines.append(f"{url}\t{digest['size']}\t{digest['sha256']}\t"
                 f"{os.path.basename(os.fspath(file))}")
  with open(os.fspath(path), "w") as f:
    f.write("\n".join(lines) + "\n")
  return os.fspath(path)


def closed_port_url() -> str:
  """An http URL on 127.0.0.1 where nothing listens."""
  import socket  # pylint: disable=g-import-not-at-top
  with socket.socket() as s:
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
  return f"http://127.0.0.1:{port}"
