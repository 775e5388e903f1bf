"""Joining a Ray cluster safely, without starting one (issue: the cluster
path secure by default).

* tfdis reads the token authentication settings as Ray 2.60 does: compared
  with Ray's own loader (``ray._raylet``) in a fresh process over the
  variables' precedence, case and whitespace rules;
* joining ('auto' or host:port) with token authentication disabled is
  refused with one message before any connection, by the binaries before
  anything is written (exit 2), by run_study/run_pbt before their output
  directory exists; the opt-out goes through and is recorded; a local
  instance is never refused;
* an address where nothing answers ends within ``ray_connect_timeout_s``
  with one message (closed port, and a listener that never speaks gRPC).

A real token-authenticated head is in tests/test_ray_token_cluster.py.
"""

import json
import os
import select
import socket
import subprocess
import sys
import time

import pytest

pytest.importorskip("ray")

from tfdis.execution import ExecutionConfig, ExecutionConfigError  # noqa: E402
from tfdis.execution import ray_security  # noqa: E402
from tfdis.errors import UserError  # noqa: E402

TOKEN_VARS = ("RAY_AUTH_MODE", "RAY_AUTH_TOKEN", "RAY_AUTH_TOKEN_PATH",
              "RAY_ADDRESS")


def clean_env(home, **extra):
  """This environment without Ray's auth variables, HOME=``home``."""
  env = {k: v for k, v in os.environ.items() if k not in TOKEN_VARS}
  env["HOME"] = str(home)
  env.update(extra)
  return env


# Ray's view, for each case: the mode ray.init would use and the token its
# loader reads. For 'auto' ray.init first runs
# maybe_enable_token_auth_if_token_available; host:port never does.
RAY_VIEW = r"""
import json, os, sys
from ray._private.authentication_test_utils import reset_auth_token_state
from ray._private.authentication.authentication_token_setup import (
    maybe_enable_token_auth_if_token_available)
from ray._raylet import (AuthenticationMode, AuthenticationTokenLoader,
                         get_authentication_mode)
out = []
for address, env in json.loads(sys.argv[1]):
  for k in ("RAY_AUTH_MODE", "RAY_AUTH_TOKEN", "RAY_AUTH_TOKEN_PATH"):
    os.environ.pop(k, None)
  os.environ.update(env)
  reset_auth_token_state()
  if address == "auto":
    maybe_enable_token_auth_if_token_available(warn_if_disabled=False)
    reset_auth_token_state()
  loader = AuthenticationTokenLoader.instance()
  token = (loader.get_raw_token(ignore_auth_mode=True)
           if loader.has_token(ignore_auth_mode=True) else None)
  mode = get_authentication_mode() == AuthenticationMode.TOKEN
  out.append([mode, token])
print(json.dumps(out))
"""


def test_auth_settings_agree_with_rays_loader(tmp_path):
  """Known answers from Ray itself: for each environment the mode
  ``ray.init`` would use and the token Ray's C++ loader reads equal ours."""
  home = tmp_path / "home"
  (home / ".ray").mkdir(parents=True)
  (home / ".ray" / "auth_token").write_text("from-home\n")
  token_file = tmp_path / "token"
  token_file.write_text("  from-path \n")
  empty_home = tmp_path / "empty_home"
  empty_home.mkdir()
  cases = [  # (address, HOME, variables)
      ("10.0.0.1:6379", empty_home, {}),
      ("10.0.0.1:6379", empty_home, {"RAY_AUTH_MODE": "TOKEN",
                                     "RAY_AUTH_TOKEN": " abc "}),
      ("10.0.0.1:6379", home, {"RAY_AUTH_MODE": "token",
                               "RAY_AUTH_TOKEN_PATH": str(token_file)}),
      ("10.0.0.1:6379", home, {"RAY_AUTH_MODE": "token"}),
      ("10.0.0.1:6379", home, {"RAY_AUTH_TOKEN": "abc",
                               "RAY_AUTH_TOKEN_PATH": str(token_file)}),
      ("auto", home, {}),  # a token found: Ray turns token mode on
      ("10.0.0.1:6379", home, {}),  # ...but never for host:port
      ("auto", empty_home, {}),
      ("auto", home, {"RAY_AUTH_MODE": "disabled"}),
      ("10.0.0.1:6379", home, {"RAY_AUTH_MODE": "k8s"}),
      ("10.0.0.1:6379", home, {"RAY_AUTH_MODE": " token"}),
  ]
  ours = []
  for address, h, variables in cases:
    s = ray_security.auth_settings(address, clean_env(h, **variables))
    ours.append([s.enabled, s.token])
  # One Ray process per HOME (Ray reads HOME once).
  theirs = [None] * len(cases)
  for h in (home, empty_home):
    idx = [i for i, c in enumerate(cases) if c[1] == h]
    out = subprocess.run(
        [sys.executable, "-c", RAY_VIEW,
         json.dumps([[cases[i][0], cases[i][2]] for i in idx])],
        env=clean_env(h), capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    for i, view in zip(idx, json.loads(out.stdout.strip().splitlines()[-1])):
      theirs[i] = view
  assert ours == theirs
  assert ours[:4] == [[False, None], [True, "abc"], [True, "from-path"],
                      [True, "from-home"]]


def test_check_join_refuses_without_token_auth(tmp_path):
  env = clean_env(tmp_path)
  for address in ("auto", "10.0.0.1:6379"):
    with pytest.raises(ray_security.UnauthenticatedClusterError) as e:
      ray_security.check_join(address, environ=env)
    message = str(e.value)
    assert isinstance(e.value, UserError)
    for part in (f"--ray_address={address}", "RAY_AUTH_MODE unset",
                 "export RAY_AUTH_MODE=token", "RAY_AUTH_TOKEN",
                 "--ray_allow_unauthenticated_cluster"):
      assert part in message
  # RAY_AUTH_MODE=disabled is the same refusal, naming the value.
  with pytest.raises(ray_security.UnauthenticatedClusterError,
                     match="RAY_AUTH_MODE=disabled"):
    ray_security.check_join("auto", environ=clean_env(
        tmp_path, RAY_AUTH_MODE="disabled"))
  # A Ray instance started here keeps Ray's default and is never refused.
  for address in (None, "", "  "):
    record = ray_security.check_join(address, environ=env)
    assert record["joins_cluster"] is False and record["token_auth"] is True
  assert ray_security.check_join(None, environ=clean_env(
      tmp_path, RAY_AUTH_MODE="disabled"))["token_auth"] is False


def test_check_join_records_the_opt_out_and_the_token_source(tmp_path):
  record = ray_security.check_join("10.0.0.1:6379", True,
                                   environ=clean_env(tmp_path))
  assert record == {"ray_address": "10.0.0.1:6379", "joins_cluster": True,
                    "token_auth": False,
                    "token_auth_mode_source": "RAY_AUTH_MODE unset",
                    "unauthenticated_cluster_allowed": True}
  record = ray_security.check_join("10.0.0.1:6379", environ=clean_env(
      tmp_path, RAY_AUTH_MODE="token", RAY_AUTH_TOKEN="s3cret"))
  assert record["token_auth"] is True
  assert record["token_source"] == "RAY_AUTH_TOKEN"
  assert record["unauthenticated_cluster_allowed"] is False
  assert "s3cret" not in json.dumps(record)  # never the token itself


@pytest.mark.parametrize("variables, message", [
    ({"RAY_AUTH_MODE": "token"}, "no token was found: set RAY_AUTH_TOKEN"),
    ({"RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN_PATH": "/nonexistent/tok"},
     "RAY_AUTH_TOKEN_PATH=/nonexistent/tok cannot be read"),
])
def test_token_mode_without_a_token_is_one_message(tmp_path, variables,
                                                    message):
  with pytest.raises(ray_security.RayTokenError, match=message):
    ray_security.check_join("10.0.0.1:6379",
                            environ=clean_env(tmp_path, **variables))


def test_config_fields():
  config = ExecutionConfig(executor="ray", ray_address="10.0.0.1:6379",
                           ray_allow_unauthenticated_cluster=True,
                           ray_connect_timeout_s=5).validate()
  assert ExecutionConfig.from_dict(config.to_dict()) == config
  assert ExecutionConfig().ray_connect_timeout_s == 30.0
  assert ExecutionConfig().ray_allow_unauthenticated_cluster is False
  for fields, message in [
      (dict(ray_connect_timeout_s=0), "ray_connect_timeout_s must be"),
      (dict(ray_connect_timeout_s=float("inf")), "ray_connect_timeout_s"),
      (dict(ray_allow_unauthenticated_cluster="yes"), "true or false")]:
    with pytest.raises(ExecutionConfigError, match=message):
      ExecutionConfig(**fields).validate()


def _free_port():
  with socket.socket() as s:
    s.bind(("127.0.0.1", 0))
    return s.getsockname()[1]


@pytest.fixture
def silent_listener():
  """A TCP port on 127.0.0.1 that accepts connections and never answers."""
  sock = socket.socket()
  sock.bind(("127.0.0.1", 0))
  sock.listen(8)
  try:
    yield sock
  finally:
    sock.close()


@pytest.mark.parametrize("kind", ["closed port", "silent listener"])
def test_unreachable_address_ends_within_the_timeout(tmp_path, kind,
                                                     silent_listener):
  port = (_free_port() if kind == "closed port"
          else silent_listener.getsockname()[1])
  env = clean_env(tmp_path, RAY_AUTH_MODE="token", RAY_AUTH_TOKEN="x")
  start = time.monotonic()
  with pytest.raises(ray_security.RayUnreachableError) as e:
    ray_security.probe_cluster(f"127.0.0.1:{port}", 1.5, environ=env)
  took = time.monotonic() - start
  assert 1.0 <= took < 4.0, took  # retried until, and not much past, 1.5 s
  assert f"No Ray cluster answered at --ray_address=127.0.0.1:{port}" in str(
      e.value)
  assert "within 1.5 s (--ray_connect_timeout_s)" in str(e.value)


def _run_cli(binary, args, env, timeout=180):
  return subprocess.run([sys.executable, "-m", f"tfdis.bin.{binary}", *args],
                        env=env, capture_output=True, text=True,
                        timeout=timeout)


def test_binaries_refuse_before_any_connection_or_write(tmp_path,
                                                         silent_listener):
  """tfdis_study and tfdis_pbt joining without token authentication: exit
  2, one line, no output directory, and the listener at --ray_address saw
  no connection attempt."""
  port = silent_listener.getsockname()[1]
  env = clean_env(tmp_path)
  runs = {
      "study": ["--study=quickstart", f"--output_dir={tmp_path / 'study'}",
                "--executor=ray", f"--ray_address=127.0.0.1:{port}",
                "--steps=2"],
      "pbt": [f"--output_dir={tmp_path / 'pbt'}", "--eval=mig",
              "--dataset=procedural_dsprites_small", "--executor=ray",
              "--ray_address=auto"],
  }
  for binary, args in runs.items():
    out = _run_cli(binary, args, env)
    assert out.returncode == 2, out.stderr[-3000:]
    lines = [l for l in out.stderr.splitlines()
             if l.startswith(f"tfdis_{binary}: error:")]
    assert len(lines) == 1 and "Traceback" not in out.stderr
    assert "token authentication is disabled in this process" in lines[0]
    assert "--ray_allow_unauthenticated_cluster" in lines[0]
    assert not os.path.exists(tmp_path / binary)
  readable, _, _ = select.select([silent_listener], [], [], 0)
  assert readable == []  # nobody connected


def test_library_refuses_before_writing(tmp_path, monkeypatch):
  """run_study and run_pbt with an ExecutionConfig: the refusal, and with
  the opt-out the bounded connect check, come before the output directory
  exists."""
  from tfdis.pbt import PBTConfig, run_pbt
  from tfdis.study import run_study

  for name in TOKEN_VARS:
    monkeypatch.delenv(name, raising=False)
  monkeypatch.setenv("HOME", str(tmp_path))
  refused = ExecutionConfig(executor="ray", ray_address="10.0.0.1:6379")
  unreachable = ExecutionConfig(
      executor="ray", ray_address=f"127.0.0.1:{_free_port()}",
      ray_allow_unauthenticated_cluster=True, ray_connect_timeout_s=1)
  pbt = dict(dataset="procedural_dsprites_small", model="beta_vae",
             latent_dim=4, eval="mig", population_size=2, max_generations=1)
  for executor, error in ((refused,
                           ray_security.UnauthenticatedClusterError),
                          (unreachable, ray_security.RayUnreachableError)):
    with pytest.raises(error):
      run_study("quickstart", str(tmp_path / "study"), executor=executor,
                steps=1, seeds=1)
    with pytest.raises(error):
      run_pbt(PBTConfig(output_dir=str(tmp_path / "pbt"), **pbt),
              executor=executor)
    assert not os.path.exists(tmp_path / "study")
    assert not os.path.exists(tmp_path / "pbt")
