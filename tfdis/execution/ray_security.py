"""Joining a Ray cluster safely: token authentication, a bounded connect.

An unauthenticated Ray cluster runs whatever anyone who reaches its ports
submits (the GCS on 6379, the dashboard and Jobs API on 8265, the Ray client
on 10001; Ray's security page and its 2.52+ token authentication,
https://docs.ray.io/en/latest/ray-security/token-auth.html). With the pinned
Ray 2.60 a local ``ray.init()`` turns token authentication on by itself, but
joining a cluster (``ray.init(address='host:port')``) uses it only when this
process has ``RAY_AUTH_MODE=token`` (for ``'auto'`` also when a token is
found and ``RAY_AUTH_MODE`` is unset). tfdis therefore

* refuses to join a cluster when token authentication is disabled in this
  process, before any connection and before anything is written, unless the
  caller opts out with ``ray_allow_unauthenticated_cluster`` (recorded in the
  run's record: ``study.json``, PBT's ``results.json``);
* asks the cluster's GCS once, with the token, whether it answers and
  accepts the token, within ``ray_connect_timeout_s``: an address where
  nothing answers, or a cluster that rejects the token, ends in one message
  instead of Ray's retries (over two minutes for ``127.0.0.1:1``, or about
  20 s of "Unauthenticated" warnings ending in a bare ConnectionError).

The token is looked up as Ray 2.60 does (highest precedence first):
``RAY_AUTH_TOKEN``, the file named by ``RAY_AUTH_TOKEN_PATH``,
``~/.ray/auth_token``; surrounding whitespace is ignored, as Ray does.
Nothing here imports Ray at module level.
"""

from __future__ import annotations

import dataclasses
import os
import time
from typing import Any, Dict, Mapping, Optional, Tuple

from absl import logging

from tfdis.errors import UserError

AUTH_MODE_VAR = "RAY_AUTH_MODE"
TOKEN_VAR = "RAY_AUTH_TOKEN"
TOKEN_PATH_VAR = "RAY_AUTH_TOKEN_PATH"
DEFAULT_TOKEN_PATH = os.path.join("~", ".ray", "auth_token")
ALLOW_FLAG = "--ray_allow_unauthenticated_cluster"
TIMEOUT_FLAG = "--ray_connect_timeout_s"

_ENABLE = (f"export {AUTH_MODE_VAR}=token and {TOKEN_VAR}=<the cluster's "
           f"token> (`ray get-auth-token` on the head node prints it; or "
           f"{TOKEN_PATH_VAR}=<a file holding it>, or put it in "
           f"{DEFAULT_TOKEN_PATH})")


class UnauthenticatedClusterError(UserError, RuntimeError):
  """Joining a cluster with token authentication disabled in this process
  (refused before any connection)."""


class RayTokenError(UserError, RuntimeError):
  """Token authentication is on but no usable token was found, or the
  cluster rejected the token."""


class RayUnreachableError(UserError, ConnectionError):
  """No Ray cluster answered at the address within the connect timeout."""


def joins_cluster(address: Optional[str]) -> bool:
  """True for 'auto' and 'host:port' (an existing cluster); False for
  None/'' (a Ray instance this process starts)."""
  return bool((address or "").strip())


@dataclasses.dataclass
class AuthSettings:
  """Token authentication of this process as Ray will apply it.

  mode: 'token' or 'disabled'; mode_source: why (the variable's value, or
  Ray's rule for 'auto'); token_source: where the token comes from (None:
  none found); the token itself is kept out of repr and records.
  """
  mode: str
  mode_source: str
  token_source: Optional[str]
  token: Optional[str] = dataclasses.field(default=None, repr=False)

  @property
  def enabled(self) -> bool:
    return self.mode == "token"


def find_token(environ: Mapping[str, str]
               ) -> Tuple[Optional[str], Optional[str]]:
  """(token, where it came from) by Ray 2.60's precedence; (None, None)
  when there is none. A ``RAY_AUTH_TOKEN_PATH`` that cannot be read or is
  empty is an error (Ray aborts the process on it)."""
  token = (environ.get(TOKEN_VAR) or "").strip()
  if token:
    return token, TOKEN_VAR
  path = environ.get(TOKEN_PATH_VAR)
  if path:
    try:
      with open(path) as f:  # as Ray: no ~ expansion
        token = f.read().strip()
    except OSError as e:
      raise RayTokenError(
          f"{TOKEN_PATH_VAR}={path} cannot be read ({e.strerror}). Point it "
          f"at the file holding the cluster's token, or unset it and set "
          f"{TOKEN_VAR}.") from None
    if not token:
      raise RayTokenError(
          f"{TOKEN_PATH_VAR}={path} is empty. Put the cluster's token in it "
          f"(`ray get-auth-token` on the head node prints it).")
    return token, f"{TOKEN_PATH_VAR} ({path})"
  home = environ.get("HOME") or os.path.expanduser("~")
  default = os.path.join(home, ".ray", "auth_token")
  try:
    with open(default) as f:
      token = f.read().strip()
  except OSError:
    token = ""
  if token:
    return token, default
  return None, None


def auth_settings(address: Optional[str],
                  environ: Optional[Mapping[str, str]] = None
                  ) -> AuthSettings:
  """How Ray 2.60's ``ray.init(address=...)`` will authenticate this
  process: ``RAY_AUTH_MODE`` (case-insensitive) decides when set; unset, a
  join through 'auto' turns token mode on when a token is found (Ray's
  ``maybe_enable_token_auth_if_token_available``), an explicit host:port
  never does."""
  environ = os.environ if environ is None else environ
  token, source = find_token(environ)
  raw = environ.get(AUTH_MODE_VAR)
  if raw is not None:
    mode = "token" if raw.lower() == "token" else "disabled"
    return AuthSettings(mode, f"{AUTH_MODE_VAR}={raw}", source, token)
  if (address or "").strip() == "auto" and token:
    return AuthSettings("token", f"{AUTH_MODE_VAR} unset, a token found "
                        "(Ray enables token mode for 'auto')", source, token)
  return AuthSettings("disabled", f"{AUTH_MODE_VAR} unset", source, token)


def check_join(address: Optional[str], allow_unauthenticated: bool = False,
               environ: Optional[Mapping[str, str]] = None,
               warn: bool = True) -> Dict[str, Any]:
  """Refuses to join a cluster without token authentication (no connection
  is made); returns the record of the run (no token in it). ``warn``: log
  the opt-out when it is used.

  Raises:
    UnauthenticatedClusterError: joining with token authentication disabled
      and ``allow_unauthenticated`` False.
    RayTokenError: token mode on but no token found.
  """
  environ = os.environ if environ is None else environ
  if not joins_cluster(address):
    # A Ray instance started here keeps Ray's default: token mode on unless
    # RAY_AUTH_MODE says otherwise (Ray's enable_token_auth_by_default).
    raw = environ.get(AUTH_MODE_VAR)
    return {"ray_address": "", "joins_cluster": False,
            "token_auth": raw is None or raw.lower() == "token",
            "token_auth_mode_source": (
                f"{AUTH_MODE_VAR}={raw}" if raw is not None else
                f"{AUTH_MODE_VAR} unset (Ray's default for a local instance)")}
  settings = auth_settings(address, environ)
  record = {"ray_address": address, "joins_cluster": True,
            "token_auth": settings.enabled,
            "token_auth_mode_source": settings.mode_source,
            "unauthenticated_cluster_allowed": False}
  if settings.enabled:
    if settings.token is None:
      raise RayTokenError(
          f"Token authentication is on ({settings.mode_source}) but no "
          f"token was found: set {TOKEN_VAR}=<the cluster's token> "
          f"(`ray get-auth-token` on the head node prints it), or "
          f"{TOKEN_PATH_VAR}=<a file holding it>, or put it in "
          f"{DEFAULT_TOKEN_PATH}.")
    record["token_source"] = settings.token_source
    return record
  if not allow_unauthenticated:
    raise UnauthenticatedClusterError(
        f"--ray_address={address} joins an existing Ray cluster, but token "
        f"authentication is disabled in this process ({settings.mode_source})"
        f". Without it anyone who can reach the cluster's ports can run code "
        f"on it and read its data, and tfdis refuses to use it. Start the "
        f"cluster with token authentication (docs/cluster.md) and {_ENABLE}. "
        f"Only for a cluster whose ports are firewalled to trusted hosts, "
        f"pass {ALLOW_FLAG} (the run records it).")
  if warn:
    logging.warning(
        "%s: joining the Ray cluster at %s WITHOUT token authentication (%s); "
        "anyone who can reach its ports can run code on it. Recorded in the "
        "run's record.", ALLOW_FLAG, address, settings.mode_source)
  record["unauthenticated_cluster_allowed"] = True
  return record


def _gcs_address(address: str) -> str:
  """host:port of the cluster's GCS: ``address`` itself, or for 'auto' what
  ``ray.init`` finds (``RAY_ADDRESS``, else the cluster running on this
  node)."""
  if address.strip() != "auto":
    return address.strip()
  from ray._private import services

  try:
    resolved = services.canonicalize_bootstrap_address(address, None)
  except ConnectionError as e:
    resolved, why = None, f" ({e})"
  else:
    why = ""
  if not resolved:
    raise RayUnreachableError(
        f"--ray_address=auto: no Ray cluster found on this node{why}. Start "
        f"it first (docs/cluster.md), pass the head's host:port, or leave "
        f"--ray_address empty to start Ray here.")
  return resolved


def probe_cluster(address: str, timeout_s: float,
                  environ: Optional[Mapping[str, str]] = None) -> str:
  """Asks the GCS at ``address`` for its cluster id, with this process's
  token, until it answers or ``timeout_s`` passes; returns the GCS address.

  One gRPC call (``NodeInfoGcsService.GetClusterId``, the first call of
  ``ray.init``) a second, each bounded by what is left of the timeout; a
  refused or unanswered connection is retried, an UNAUTHENTICATED answer is
  final.

  Raises:
    RayUnreachableError: nothing answered within ``timeout_s``.
    RayTokenError: the cluster rejected the token (or wants one).
  """
  import grpc
  from ray.core.generated import gcs_service_pb2, gcs_service_pb2_grpc

  settings = auth_settings(address, environ)
  gcs = _gcs_address(address)
  metadata = ([("authorization", f"Bearer {settings.token}")]
              if settings.enabled and settings.token else [])
  deadline = time.monotonic() + float(timeout_s)
  last = "no answer"
  with grpc.insecure_channel(gcs) as channel:
    stub = gcs_service_pb2_grpc.NodeInfoGcsServiceStub(channel)
    while True:
      left = deadline - time.monotonic()
      if left <= 0:
        break
      started = time.monotonic()
      try:
        stub.GetClusterId(gcs_service_pb2.GetClusterIdRequest(),
                          metadata=metadata, timeout=max(0.05, min(left, 5)))
        return gcs
      except grpc.RpcError as e:
        code = e.code()
        if code == grpc.StatusCode.UNAUTHENTICATED:
          raise _token_rejected(address, settings) from None
        last = f"{code.name}: {e.details()}"
      time.sleep(max(0.0, min(1.0 - (time.monotonic() - started),
                              deadline - time.monotonic())))
  raise RayUnreachableError(
      f"No Ray cluster answered at --ray_address={address} (GCS {gcs}) "
      f"within {float(timeout_s):g} s ({TIMEOUT_FLAG}); last error: {last}. "
      f"Check that the head runs (`ray status` on it) and that this machine "
      f"can reach its port, or leave --ray_address empty to start Ray here.")


def _token_rejected(address: str, settings: AuthSettings) -> RayTokenError:
  if not settings.enabled:
    return RayTokenError(
        f"The Ray cluster at {address} requires a token and this process "
        f"sends none ({settings.mode_source}, {ALLOW_FLAG} was given): "
        f"{_ENABLE}.")
  return RayTokenError(
      f"The Ray cluster at {address} rejected this process's token (from "
      f"{settings.token_source}). Set {TOKEN_VAR} to the cluster's token "
      f"(`ray get-auth-token` on the head node prints it; {TOKEN_VAR} takes "
      f"precedence over {TOKEN_PATH_VAR} and {DEFAULT_TOKEN_PATH}).")
