"""(Provisional; replaced by the run-safety branch.)"""
import contextlib
import fcntl
import json
import os


@contextlib.contextmanager
def RunLock(directory, what):
  path = os.path.join(directory, ".tfdis.lock")
  f = open(path, "a+")
  try:
    fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
  except BlockingIOError:
    f.seek(0)
    raise ValueError(f"{directory} is in use by another process: {f.read()}")
  f.seek(0); f.truncate(); f.write(json.dumps({"pid": os.getpid(), "what": what})); f.flush()
  try:
    yield
  finally:
    fcntl.flock(f, fcntl.LOCK_UN)
    f.close()


def clean_stale_temporaries(directory):
  return []
