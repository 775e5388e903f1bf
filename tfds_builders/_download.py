"""Where a builder's official files come from, and that they are the right ones.

A builder declares its inputs (``Input``): each is one logical file with one
or more acceptable forms (``Candidate``, e.g. dSprites' ``.npz`` or
``.hdf5``, smallNORB's gunzipped ``.mat`` or the downloaded ``.mat.gz``,
Cars3D's extracted ``cars/`` folder or its tarball). ``resolve`` finds each
input, in this order:

1. the manual directory (``--manual_dir``; TFDS default
   ``<data_dir>/downloads/manual``), by the candidate's file name;
2. a disentanglement_lib data folder (``$DISENTANGLEMENT_LIB_DATA`` or
   ``--dlib_data_dir``), by dlib's relative path (``dsprites/...npz``,
   ``small_norb/...``, ``cars/``, ``mpi3d_real/...``, ``scream/scream.jpg``,
   ``3dshapes/3dshapes.h5``), read in place;
3. unless downloads are off (``--nodownload``), TFDS's download manager
   (``dl_manager.download``: progress bar, cache in ``<data_dir>/downloads``,
   ``.tmp.<uuid>`` directories while a file is in flight), from the official
   URL or ``<mirror>/<file name>`` (``--dataset_mirror`` /
   ``$TFDIS_DATASET_MIRROR``; an http(s) URL or a local directory).

Verification (``verify``) of every file found or downloaded:

* size and SHA-256 from the builder's ``checksums.tsv`` (TFDS's format;
  values copied from TFDS's own catalog where it records the file), keyed by
  the official URL, so a mirrored download is checked against the same
  values;
* an MD5 published elsewhere (nmichlo/disent) where that is all there is;
* otherwise the size and SHA-256 recorded when the file was first seen, in
  ``<download_dir>/tfdis_file_checksums.json`` (the log says the file was not
  verified); later builds compare against that record. The values used are
  written into the build's metadata (``source_files``).

Failures are one ``tfdis`` ``UserError`` each (exit status 2 in the
binaries): a wrong size or hash (expected and found; a downloaded file is
removed, a file of the user's is left alone), an interrupted download (retried
``DOWNLOAD_ATTEMPTS`` times from scratch; the partial file is removed, never
read), no network (the URL, the manual directory and the mirror option), a
missing link (HTTP 404), a full disk.
"""

from __future__ import annotations

import dataclasses
import errno
import hashlib
import json
import os
import shutil
from typing import Dict, Mapping, Optional, Sequence, Tuple

from absl import logging
from etils import epath

from tfdis import io_utils
from tfdis.data import sources as sources_lib
from tfdis.errors import UserError
from tfds_builders import _common

# One definition of the variables, shared with the tfdis binaries' flags.
ENV_MIRROR = sources_lib.ENV_MIRROR
ENV_DLIB = sources_lib.ENV_DLIB
ENV_DOWNLOAD = sources_lib.ENV_DOWNLOAD  # "0": --nodownload
ENV_VERIFY = sources_lib.ENV_VERIFY  # "0": do not hash the files
ENV_CHECKSUMS = sources_lib.ENV_CHECKSUMS  # extra checksums.tsv (Sources)
RECORD_FILE = "tfdis_file_checksums.json"
DOWNLOAD_ATTEMPTS = 3
PROBE_TIMEOUT_S = 30
MIRROR_HINT = (f"--dataset_mirror=URL (or ${ENV_MIRROR}; files are fetched as "
               "<URL>/<file name>)")


class ChecksumMismatchError(UserError, ValueError):
  """A file's size or hash is not the expected one."""


class DownloadFailedError(UserError, OSError):
  """A download did not complete (network, server, disk)."""


@dataclasses.dataclass(frozen=True)
class Sources:
  """Where official files may come from (the same options in every binary).

  Attributes:
    download: fetch missing files (False: the manual/dlib folders only).
    mirror: base URL or directory replacing the official download URLs.
    dlib_dir: a disentanglement_lib data folder used in place.
    verify: check sizes and hashes (False: files are not hashed at all; for
      files one made oneself, e.g. the tests' dummy files).
    checksums_file: an extra ``checksums.tsv`` (TFDS's format: official URL,
      size, SHA-256, file name) whose entries take precedence over the
      builder's; for a private re-release of a file, and for the tests'
      registry of their dummy files.
  """
  download: bool = True
  mirror: Optional[str] = None
  dlib_dir: Optional[str] = None
  verify: bool = True
  checksums_file: Optional[str] = None

  @classmethod
  def from_env(cls, download: Optional[bool] = None,
               mirror: Optional[str] = None,
               dlib_dir: Optional[str] = None,
               verify: Optional[bool] = None) -> "Sources":
    """Options left at None come from the environment variables
    ``$TFDIS_DATASET_DOWNLOAD`` (0/1), ``$TFDIS_DATASET_MIRROR``,
    ``$DISENTANGLEMENT_LIB_DATA``, ``$TFDIS_DATASET_VERIFY`` (0/1) and
    ``$TFDIS_DATASET_CHECKSUMS`` (the binaries set them from their flags, so
    worker processes see the same)."""
    env = os.environ
    if download is None:
      download = env.get(ENV_DOWNLOAD, "1").strip().lower() not in (
          "0", "false", "no")
    if verify is None:
      verify = env.get(ENV_VERIFY, "1").strip().lower() not in (
          "0", "false", "no")
    mirror = mirror or env.get(ENV_MIRROR) or None
    dlib_dir = dlib_dir or env.get(ENV_DLIB) or None
    checksums_file = env.get(ENV_CHECKSUMS) or None
    return cls(download=bool(download), mirror=mirror,
               dlib_dir=None if dlib_dir is None else os.path.expanduser(
                   dlib_dir), verify=bool(verify),
               checksums_file=checksums_file)


@dataclasses.dataclass(frozen=True)
class Candidate:
  """One acceptable form of an input.

  Attributes:
    name: file name in the manual directory and of the download ("x/" for a
      folder, which is never downloaded).
    url: official download URL (None: not downloadable in this form).
    dlib_path: path relative to a disentanglement_lib data folder.
    md5: a published MD5 of the file, with ``md5_source`` saying where.
    md5_strict: False when the MD5 was published for an earlier URL of a file
      that may since have changed (a mismatch is then logged, not fatal).
    downloadable: False for a form accepted locally but not fetched (the
      input's download is its first downloadable candidate).
    note: how to make this form from the download (shown in messages).
  """
  name: str
  url: Optional[str] = None
  dlib_path: Optional[str] = None
  md5: Optional[str] = None
  md5_source: str = ""
  md5_strict: bool = True
  downloadable: bool = True
  note: str = ""

  @property
  def is_dir(self) -> bool:
    return self.name.endswith("/")


@dataclasses.dataclass(frozen=True)
class Input:
  """A logical input file and its acceptable forms (first found wins)."""
  key: str
  candidates: Tuple[Candidate, ...]

  @property
  def download(self) -> Optional[Candidate]:
    return next((c for c in self.candidates if c.url and c.downloadable),
                None)


def single(name: str, url: str, dlib_path: Optional[str] = None,
           **md5) -> Input:
  return Input(name, (Candidate(name, url, dlib_path, **md5),))


def builder_sources(builder) -> Sources:
  """The ``Sources`` set on a builder (``prepare`` does), else from the env."""
  sources = getattr(builder, "tfdis_sources", None)
  return sources if sources is not None else Sources.from_env()


def mirror_url(sources: Sources, candidate: Candidate) -> str:
  if not sources.mirror:
    return candidate.url
  base = sources.mirror
  if "://" not in base:
    base = os.path.abspath(os.path.expanduser(base))
  return base.rstrip("/") + "/" + candidate.name


def _local(path: epath.Path, candidate: Candidate) -> bool:
  if candidate.is_dir:
    return path.is_dir() and any(path.iterdir())
  return path.is_file()


def _find_local(inp: Input, manual_dir, dlib_dir
                ) -> Optional[Tuple[Candidate, epath.Path, str]]:
  for candidate in inp.candidates:
    if manual_dir is not None:
      path = epath.Path(manual_dir) / candidate.name.rstrip("/")
      if _local(path, candidate):
        return candidate, path, "manual directory"
  if dlib_dir is not None:
    for candidate in inp.candidates:
      if candidate.dlib_path:
        path = epath.Path(dlib_dir) / candidate.dlib_path.rstrip("/")
        if _local(path, candidate):
          return candidate, path, "disentanglement_lib data folder"
  return None


# ---------------------------------------------------------------- checksums


def file_digests(path, md5: bool = False) -> Dict[str, object]:
  """{"size", "sha256"[, "md5"]} of a file, in one pass."""
  sha = hashlib.sha256()
  other = hashlib.md5() if md5 else None
  size = 0
  with open(os.fspath(path), "rb") as f:
    while True:
      block = f.read(8 << 20)
      if not block:
        break
      size += len(block)
      sha.update(block)
      if other is not None:
        other.update(block)
  out = {"size": size, "sha256": sha.hexdigest()}
  if other is not None:
    out["md5"] = other.hexdigest()
  return out


def registered(builder, candidate: Candidate,
               sources: Optional[Sources] = None):
  """TFDS ``UrlInfo`` (size, checksum) of the official URL, or None.

  ``sources.checksums_file`` first, then the builder's ``checksums.tsv``.
  Only the form the URL serves has its values (not e.g. the gunzipped .mat
  of a .mat.gz URL).
  """
  if not candidate.url or not candidate.downloadable:
    return None
  if sources is not None and sources.checksums_file:
    from tensorflow_datasets.core.download import checksums  # pylint: disable=g-import-not-at-top
    path = epath.Path(sources.checksums_file)
    if not path.exists():
      raise UserError(f"The checksums file {path} (${ENV_CHECKSUMS}) does "
                      "not exist.")
    extra = checksums.load_url_infos(path)
    if candidate.url in extra:
      return extra[candidate.url]
  infos = type(builder).url_infos or {}
  return infos.get(candidate.url)


def _record_path(dl_manager) -> epath.Path:
  return epath.Path(dl_manager.download_dir) / RECORD_FILE


def _read_records(dl_manager) -> dict:
  path = _record_path(dl_manager)
  if not path.exists():
    return {}
  try:
    return json.loads(path.read_text())
  except ValueError:
    logging.warning("%s is not valid JSON; starting a new record", path)
    return {}


def _write_records(dl_manager, records: dict) -> None:
  io_utils.write_json(os.fspath(_record_path(dl_manager)), records)


def _mismatch(what: str, expected: dict, found: dict, action: str) -> str:
  keys = [k for k in ("size", "sha256", "md5") if k in expected]
  exp = ", ".join(f"{k} {expected[k]}" for k in keys)
  got = ", ".join(f"{k} {found.get(k)}" for k in keys)
  return (f"{what} is not the expected file: expected {exp}; found {got}. "
          f"{action}")


def verify(builder, dl_manager, candidate: Candidate, path: epath.Path,
           origin: str, downloaded: bool, sources: Sources) -> dict:
  """Checks ``path`` against what is known of it; returns its record.

  Raises ``ChecksumMismatchError`` (after removing ``path`` if it was
  downloaded). A folder (Cars3D's extracted ``cars/``) is not hashed.
  """
  if candidate.is_dir:
    return {"origin": origin, "verified": "not verified (a folder)"}
  if not sources.verify:
    logging.warning("%s: not verified (verification turned off)", path)
    return {"origin": origin, "verified": "not verified (turned off)"}
  reg = registered(builder, candidate, sources)
  need_md5 = bool(candidate.md5)
  found = None
  if downloaded and not need_md5:
    try:  # TFDS hashed it while downloading (INFO file next to it)
      from tensorflow_datasets.core.download import downloader  # pylint: disable=g-import-not-at-top
      info = downloader.read_url_info(path)
      found = {"size": int(info.size), "sha256": info.checksum}
    except Exception:  # pylint: disable=broad-except
      found = None
  if found is None:
    found = file_digests(path, md5=need_md5)
  record = {"origin": origin, "size": found["size"],
            "sha256": found["sha256"]}
  where = f"{path} ({origin})"
  if downloaded:
    action = (f"The download was removed. Run the command again to download "
              f"it again; if it fails again the source "
              f"({mirror_url(sources, candidate)}) serves another file: use "
              f"{MIRROR_HINT} or put the right file in the manual directory.")
  else:
    action = (f"Replace it with the official file from {candidate.url} (it "
              "was left in place).")

  def fail(expected):
    if downloaded:
      remove_download(path)
    raise ChecksumMismatchError(_mismatch(where, expected, found, action))

  if reg is not None:
    expected = {"size": int(reg.size), "sha256": reg.checksum}
    if found["size"] != expected["size"] or found["sha256"] != expected[
        "sha256"]:
      fail(expected)
    record["verified"] = "checksums.tsv (size and SHA-256)"
  if need_md5:
    if found["md5"] != candidate.md5:
      if candidate.md5_strict and reg is None:
        fail({"md5": candidate.md5})
      logging.warning("%s: MD5 %s differs from %s published by %s (kept: "
                      "that value is for an earlier release)", path,
                      found["md5"], candidate.md5, candidate.md5_source)
      record["md5_note"] = (f"MD5 differs from {candidate.md5_source}'s "
                            "(earlier release)")
    elif reg is None:
      record["verified"] = f"MD5 published by {candidate.md5_source}"
  if "verified" not in record:
    records = _read_records(dl_manager)
    previous = records.get(candidate.name)
    if previous is None:
      logging.warning(
          "%s: no published checksum; NOT verified. Recorded size %d and "
          "SHA-256 %s in %s; later builds compare against them.", where,
          found["size"], found["sha256"], _record_path(dl_manager))
      records[candidate.name] = {"size": found["size"],
                                 "sha256": found["sha256"],
                                 "url": candidate.url}
      try:
        _write_records(dl_manager, records)
      except OSError as e:
        raise_if_disk_full(e, _record_path(dl_manager))
        raise
      record["verified"] = "not verified (no published checksum; recorded)"
    else:
      expected = {"size": previous["size"], "sha256": previous["sha256"]}
      if (found["size"], found["sha256"]) != (expected["size"],
                                              expected["sha256"]):
        action += (f" (The expected values were recorded when the file was "
                   f"first used; if the official file really changed, remove "
                   f"its entry from {_record_path(dl_manager)}.)")
        fail(expected)
      record["verified"] = "recorded at first use (size and SHA-256)"
  return record


# ---------------------------------------------------------------- downloads


def remove_download(path) -> None:
  path = epath.Path(path)
  for p in (path, path.parent / (path.name + ".INFO")):
    if p.exists():
      p.unlink()


def _tmp_dirs(dl_manager, builder, url: str):
  from tensorflow_datasets.core.download import resource as resource_lib  # pylint: disable=g-import-not-at-top
  fname = resource_lib.get_dl_fname(url)
  roots = {epath.Path(dl_manager.download_dir) / builder.name,
           epath.Path(dl_manager.download_dir)}
  return [p for root in roots if root.exists()
          for p in root.glob(f"{fname}.tmp.*")]


def _is_cached(dl_manager, builder, url: str) -> bool:
  """Whether TFDS's download cache holds ``url`` (file + its INFO)."""
  from tensorflow_datasets.core.download import resource as resource_lib  # pylint: disable=g-import-not-at-top
  names = [resource_lib.get_dl_fname(url)]
  info = getattr(dl_manager, "_url_infos", {}).get(url)
  if info is not None:
    names.append(resource_lib.get_dl_fname(url, info.checksum))
  for root in (epath.Path(dl_manager.download_dir) / builder.name,
               epath.Path(dl_manager.download_dir)):
    for name in names:
      if (root / name).exists() and (root / (name + ".INFO")).exists():
        return True
  return False


def remove_partial_downloads(dl_manager, builder, url: str) -> int:
  """Removes TFDS's ``<name>.tmp.<uuid>`` folders of ``url``; how many."""
  stale = _tmp_dirs(dl_manager, builder, url)
  for p in stale:
    shutil.rmtree(os.fspath(p), ignore_errors=True)
  return len(stale)


def is_disk_full(e: BaseException) -> bool:
  return (isinstance(e, OSError) and e.errno == errno.ENOSPC) or (
      "No space left on device" in str(e))


def raise_if_disk_full(e: BaseException, where) -> None:
  if is_disk_full(e):
    raise DownloadFailedError(
        f"No space left on the device while writing {where}. Free some "
        "space or point --data_dir (TFDS data directory, which holds "
        "downloads/) to a larger disk, then run the command again; nothing "
        "half-written was kept.") from None


def _no_network(url: str, manual_dir, reason: str) -> DownloadFailedError:
  return DownloadFailedError(
      f"Cannot download {url} ({reason}). Without network access, put the "
      f"file in the manual directory {manual_dir} (--manual_dir=DIR) or in a "
      f"disentanglement_lib data folder (--dlib_data_dir or ${ENV_DLIB}); "
      f"or download from a mirror with {MIRROR_HINT}. --nodownload makes a "
      "missing file an immediate error instead.")


def probe(url: str, manual_dir) -> None:
  """Fails fast without network / on a dead link.

  TFDS retries a refused connection 10 times with exponential back-off
  (about 3 minutes) before it reports anything; one HEAD request with a
  timeout tells the user at once. Only a missing server or a 404/410 fail
  here; anything else is left to TFDS's download.
  """
  if "://" not in url or url.startswith("file://"):
    local = url[len("file://"):] if url.startswith("file://") else url
    if not os.path.exists(local):
      raise DownloadFailedError(
          f"The mirror has no {os.path.basename(local)}: {local} does not "
          f"exist. Put the file there, or fix {MIRROR_HINT}.")
    return
  import requests  # pylint: disable=g-import-not-at-top
  try:
    response = requests.head(url, allow_redirects=True,
                             timeout=PROBE_TIMEOUT_S)
  except (requests.ConnectionError, requests.Timeout) as e:
    raise _no_network(url, manual_dir, f"no connection: "
                      f"{type(e).__name__}") from None
  if response.status_code in (404, 410):
    raise DownloadFailedError(
        f"{url} answered HTTP {response.status_code}: the file is not there "
        f"(moved link?). Download it by hand into the manual directory "
        f"{manual_dir}, or use {MIRROR_HINT}.")


def _fresh_manager(dl_manager, builder):
  """A DownloadManager like ``dl_manager`` with an empty memo.

  TFDS memoises ``download`` per (manager, URL), failures included, so a
  retry through the same manager would return the first failure again.
  """
  from tensorflow_datasets.core.download import download_manager as dm  # pylint: disable=g-import-not-at-top
  return dm.DownloadManager(
      download_dir=dl_manager.download_dir,
      dataset_name=getattr(dl_manager, "_dataset_name", None) or builder.name,
      url_infos=type(builder).url_infos,
      verify_ssl=getattr(dl_manager, "_verify_ssl", True))


def _download_once(dl_manager, builder, url: str,
                   attempt: int) -> epath.Path:
  manager = dl_manager if attempt == 1 else _fresh_manager(dl_manager,
                                                           builder)
  return epath.Path(manager.download(url))


def download(builder, dl_manager, candidate: Candidate, sources: Sources,
             manual_dir) -> epath.Path:
  """The downloaded (or cached) file of ``candidate``; see the module doc."""
  from tensorflow_datasets.core.download import download_manager as dm  # pylint: disable=g-import-not-at-top
  from tensorflow_datasets.core.download import util as dl_util  # pylint: disable=g-import-not-at-top
  import requests  # pylint: disable=g-import-not-at-top

  url = mirror_url(sources, candidate)
  stale = remove_partial_downloads(dl_manager, builder, url)
  if stale:
    logging.info("Removed %d partial download(s) of %s left by an earlier "
                 "run", stale, url)
  if not _is_cached(dl_manager, builder, url):
    probe(url, manual_dir)  # a cached file needs no network
  last = None
  for attempt in range(1, DOWNLOAD_ATTEMPTS + 1):
    try:
      return _download_once(dl_manager, builder, url, attempt)
    except dm.NonMatchingChecksumError:
      # TFDS checked a registered URL and left the file in its .tmp folder.
      bad = [p for d in _tmp_dirs(dl_manager, builder, url)
             for p in d.iterdir()]
      found = file_digests(bad[0]) if bad else {}
      remove_partial_downloads(dl_manager, builder, url)
      reg = registered(builder, candidate, sources) or (
          dl_manager._url_infos.get(url))  # pylint: disable=protected-access
      expected = {"size": int(reg.size), "sha256": reg.checksum}
      raise ChecksumMismatchError(_mismatch(
          f"The download of {url}", expected, found,
          "The download was removed. Run the command again; if it fails "
          f"again the source serves another file: use {MIRROR_HINT} or put "
          "the right file in the manual directory.")) from None
    except (requests.exceptions.ChunkedEncodingError,
            requests.exceptions.ConnectionError,
            requests.exceptions.Timeout) as e:
      remove_partial_downloads(dl_manager, builder, url)
      last = e
      logging.warning("Download of %s interrupted (attempt %d of %d): %s",
                      url, attempt, DOWNLOAD_ATTEMPTS, type(e).__name__)
    except dl_util.DownloadError as e:
      remove_partial_downloads(dl_manager, builder, url)
      raise DownloadFailedError(
          f"Download of {url} failed: {e}. Download it by hand into the "
          f"manual directory {manual_dir}, or use {MIRROR_HINT}.") from None
    except OSError as e:
      remove_partial_downloads(dl_manager, builder, url)
      raise_if_disk_full(e, dl_manager.download_dir)
      raise
  raise DownloadFailedError(
      f"Download of {url} was interrupted {DOWNLOAD_ATTEMPTS} times "
      f"({type(last).__name__}); the partial file was removed. Run the "
      f"command again, put the file in the manual directory {manual_dir}, "
      f"or use {MIRROR_HINT}.")


# ---------------------------------------------------------------- resolve


def missing_message(dataset: str, missing: Sequence[Input], manual_dir,
                    sources: Sources) -> str:
  where = "(no manual directory given)" if manual_dir is None else str(
      manual_dir)
  lines = [f"{dataset}: {len(missing)} official file(s) missing from the "
           f"manual directory {where}"
           + (f" and the disentanglement_lib folder {sources.dlib_dir}"
              if sources.dlib_dir else "") + ":"]
  for inp in missing:
    forms = " or ".join(
        c.name + (f" (get it from {c.url}" + (f" ({c.note})" if c.note else "")
                  + ")" if c.url else "")
        for c in inp.candidates)
    lines.append(f"  - {forms}")
  target = "DIR" if manual_dir is None else str(manual_dir)
  lines.append(
      f"Put the file(s) at {target}/<name> as listed, or drop --nodownload "
      f"to download them (a mirror: {MIRROR_HINT}). " + _common.MANUAL_DIR_HINT)
  return "\n".join(lines)


def resolve(builder, dl_manager, inputs: Sequence[Input]
            ) -> Dict[str, epath.Path]:
  """{input key: local path} for every input; records what was used.

  The records (origin, size, SHA-256, how verified) go to
  ``builder.info.metadata["source_files"]``.
  """
  sources = builder_sources(builder)
  manual_dir = _common.manual_dir_from(dl_manager)
  found, missing = {}, []
  for inp in inputs:
    hit = _find_local(inp, manual_dir, sources.dlib_dir)
    if hit is None and not (sources.download and inp.download):
      missing.append(inp)
    found[inp.key] = hit
  if missing:
    raise _common.ManualFileMissingError(
        missing_message(builder.name, missing, manual_dir, sources))
  paths, records = {}, {}
  for inp in inputs:
    hit = found[inp.key]
    if hit is None:
      candidate = inp.download
      path = download(builder, dl_manager, candidate, sources, manual_dir)
      origin = ("mirror " + sources.mirror if sources.mirror else
                "download")
      downloaded = True
    else:
      candidate, path, origin = hit
      downloaded = False
    record = verify(builder, dl_manager, candidate, path, origin, downloaded,
                    sources)
    record["file"] = candidate.name
    records[inp.key] = record
    paths[inp.key] = path
  builder.info.metadata["source_files"] = records
  return paths


def forget_download(download_dir, path) -> bool:
  """Removes ``path`` if it is a download under ``download_dir`` (with its
  INFO file and any record of its checksum); whether it was one.

  For a downloaded file that verified (or was recorded) but cannot be read:
  the next run downloads it again instead of failing on the cached copy.
  """
  root = os.path.abspath(os.fspath(download_dir))
  path = os.path.abspath(os.fspath(path))
  if not path.startswith(root + os.sep) or not os.path.isfile(path):
    return False
  name = None
  try:  # TFDS's INFO file names the file as the server sent it
    with open(path + ".INFO") as f:
      name = json.load(f).get("original_fname")
  except (OSError, ValueError):
    pass
  remove_download(path)
  records_path = os.path.join(root, RECORD_FILE)
  if name and os.path.exists(records_path):
    with open(records_path) as f:
      records = json.load(f)
    if records.pop(name, None) is not None:
      io_utils.write_json(records_path, records)
  return True


def input_names(inputs: Sequence[Input]) -> Mapping[str, str]:
  """{file name: where to get it} of every candidate (for messages/tests)."""
  return {c.name: c.url or "" for inp in inputs for c in inp.candidates}


__all__ = ["Sources", "Candidate", "Input", "single", "resolve", "verify",
           "download", "probe", "file_digests", "ENV_MIRROR", "ENV_DLIB",
           "ChecksumMismatchError", "DownloadFailedError", "MIRROR_HINT"]
