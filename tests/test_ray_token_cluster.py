"""A real Ray head with token authentication, started the documented way
(docs/cluster.md): ``ray get-auth-token --generate``, then
``RAY_AUTH_MODE=token ray start --head`` (issue: the cluster path secure by
default).

* a tiny study joins it with the token (from ``~/.ray/auth_token`` and
  ``RAY_AUTH_MODE=token``, as on the head node) and runs; study.json records
  token authentication and where the token came from, never the token;
* a wrong token, and no token at all under the opt-out, end in one message
  naming the variable to set (exit 2), before anything is written;
* against a head without token authentication, the opt-out
  ``--ray_allow_unauthenticated_cluster`` runs and is recorded in study.json
  (the refusal without it comes before any connection and is tested in
  tests/test_ray_security.py).

Everything listens on 127.0.0.1 only: where the machine allows it (Linux,
``unshare``/``nsenter``/``ip``) the heads and the drivers run in a private
network namespace whose only interface is loopback (Ray's GCS and raylet bind
every interface of their namespace); elsewhere on the loopback address of the
machine, every port chosen free. Each head has its own ``--temp-dir`` and
HOME and is stopped by its process id, so parallel Ray users of the machine
are untouched. About 2-3 minutes (two heads, two tiny studies).
"""

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

import pytest

pytest.importorskip("ray")

RAY_CLI = os.path.join(os.path.dirname(sys.executable), "ray")
AUTH_VARS = ("RAY_AUTH_MODE", "RAY_AUTH_TOKEN", "RAY_AUTH_TOKEN_PATH",
             "RAY_ADDRESS")
TINY = ["--study=quickstart", "--steps=2", "--seeds=1",
        '--sweep={"beta_vae": [{"beta": 4}]}', "--metrics=none",
        "--noudr", "--novisualize", "--noaggregate", "--executor=ray",
        "--cpus_per_task=1", "--ray_connect_timeout_s=20"]


def env_with(home, **variables):
  env = {k: v for k, v in os.environ.items() if k not in AUTH_VARS}
  env["HOME"] = str(home)
  env.update(variables)
  return env


def _free_ports(n):
  socks = [socket.socket() for _ in range(n)]
  try:
    for s in socks:
      s.bind(("127.0.0.1", 0))
    return [s.getsockname()[1] for s in socks]
  finally:
    for s in socks:
      s.close()


class Loopback:
  """Where the heads and drivers run: a private network namespace with only
  loopback (``prefix`` runs a command in it), or this machine's loopback."""

  def __init__(self):
    self.holder, self.prefix = None, []
    if not all(shutil.which(t) for t in ("unshare", "nsenter", "ip")):
      return
    for unshare, enter in (
        (["--net"], ["--net"]),
        (["--user", "--map-root-user", "--net"],
         ["--user", "--net", "--preserve-credentials"])):
      holder = subprocess.Popen(
          ["unshare", *unshare, "sh", "-c",
           "ip link set lo up && echo ready && exec sleep 86400"],
          stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
          start_new_session=True)
      if holder.stdout.readline().strip() == b"ready":
        prefix = ["nsenter", "--target", str(holder.pid), *enter, "--"]
        if subprocess.run(prefix + ["true"]).returncode == 0:
          self.holder, self.prefix = holder, prefix
          return
      holder.kill()
      holder.wait()

  def close(self):
    if self.holder is not None:
      self.holder.kill()
      self.holder.wait()


class Head:
  """``ray start --head --block`` with its own temp dir and HOME; stopped
  (SIGTERM, then SIGKILL of its process group) by id."""

  def __init__(self, root, loopback, auth_mode):
    self.home = root / f"home_{auth_mode}"
    self.home.mkdir()
    # Short: Ray's unix socket paths must fit in 107 characters.
    self.temp_dir = tempfile.mkdtemp(prefix="tfdis_ray_", dir="/tmp")
    env = env_with(self.home, RAY_AUTH_MODE=auth_mode)
    self.token = None
    if auth_mode == "token":  # the documented way: a token in ~/.ray
      out = subprocess.run([RAY_CLI, "get-auth-token", "--generate"],
                           env=env, capture_output=True, text=True,
                           timeout=120, check=True)
      self.token = out.stdout.strip()
      assert (self.home / ".ray" / "auth_token").read_text().strip() == \
          self.token
    (self.port, client, node_manager, object_manager, agent, agent_grpc,
     runtime_env, metrics, *workers) = _free_ports(12)
    self.address = f"127.0.0.1:{self.port}"
    self.log_path = root / f"head_{auth_mode}.log"
    self.log = open(self.log_path, "w")
    self.proc = subprocess.Popen(
        loopback.prefix + [
            RAY_CLI, "start", "--head", "--block",
            "--node-ip-address=127.0.0.1", f"--port={self.port}",
            "--num-cpus=1", "--include-dashboard=false",
            "--disable-usage-stats", f"--temp-dir={self.temp_dir}",
            f"--ray-client-server-port={client}",
            f"--node-manager-port={node_manager}",
            f"--object-manager-port={object_manager}",
            f"--dashboard-agent-listen-port={agent}",
            f"--dashboard-agent-grpc-port={agent_grpc}",
            f"--runtime-env-agent-port={runtime_env}",
            f"--metrics-export-port={metrics}",
            "--worker-port-list=" + ",".join(map(str, workers))],
        env=env, stdout=self.log, stderr=subprocess.STDOUT,
        start_new_session=True)
    deadline = time.monotonic() + 180
    while "Ray runtime started" not in self.log_path.read_text():
      if self.proc.poll() is not None or time.monotonic() > deadline:
        self.stop()
        pytest.fail("the Ray head did not start:\n" +
                    self.log_path.read_text()[-3000:])
      time.sleep(0.5)

  def stop(self):
    if self.proc.poll() is None:
      self.proc.send_signal(signal.SIGTERM)  # --block stops its processes
      try:
        self.proc.wait(60)
      except subprocess.TimeoutExpired:
        pass
    try:  # anything of this head still alive, by its process group
      os.killpg(self.proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
      pass
    self.proc.wait()
    self.log.close()
    shutil.rmtree(self.temp_dir, ignore_errors=True)


@pytest.fixture(scope="module")
def loopback():
  net = Loopback()
  try:
    yield net
  finally:
    net.close()


@pytest.fixture(scope="module")
def token_head(tmp_path_factory, loopback):
  head = Head(tmp_path_factory.mktemp("token_head"), loopback, "token")
  try:
    yield head
  finally:
    head.stop()


def run_study(loopback, output_dir, address, env, *extra):
  cmd = loopback.prefix + [sys.executable, "-m", "tfdis.bin.study", *TINY,
                           f"--output_dir={output_dir}",
                           f"--ray_address={address}", *extra]
  return subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True)


def finish(proc, timeout=600):
  out, err = proc.communicate(timeout=timeout)
  return proc.returncode, out, err


def error_lines(err):
  return [l for l in err.splitlines() if l.startswith("tfdis_study: error:")]


@pytest.mark.slow
def test_study_runs_with_the_token(tmp_path, loopback, token_head):
  """On the head node: the token in ~/.ray/auth_token, RAY_AUTH_MODE=token."""
  out_dir = tmp_path / "study"
  code, out, err = finish(run_study(
      loopback, out_dir, token_head.address,
      env_with(token_head.home, RAY_AUTH_MODE="token")))
  assert code == 0, err[-4000:]
  assert "0 failed" in out
  manifest = json.loads((out_dir / "study.json").read_text())
  execution = manifest["execution"]
  assert execution["executor"] == "ray"
  assert execution["token_auth"] is True
  assert execution["unauthenticated_cluster_allowed"] is False
  assert execution["token_source"] == str(token_head.home / ".ray" /
                                          "auth_token")
  assert token_head.token not in (out_dir / "study.json").read_text()
  [model] = [d for d in os.listdir(out_dir) if d.startswith("beta_vae")]
  train = json.loads((out_dir / model / "results" / "train.json").read_text())
  assert train["steps"] == 2


@pytest.mark.slow
def test_rejected_or_missing_token_is_one_message(tmp_path, loopback,
                                                  token_head):
  """A wrong token, and no token under the opt-out: the cluster says
  UNAUTHENTICATED; one line naming the variable, exit 2, nothing written."""
  empty_home = tmp_path / "empty_home"
  empty_home.mkdir()
  runs = {
      "wrong": run_study(loopback, tmp_path / "wrong", token_head.address,
                         env_with(token_head.home, RAY_AUTH_MODE="token",
                                  RAY_AUTH_TOKEN="not-the-token")),
      "none": run_study(loopback, tmp_path / "none", token_head.address,
                        env_with(empty_home),
                        "--ray_allow_unauthenticated_cluster"),
  }
  expected = {
      "wrong": "rejected this process's token (from RAY_AUTH_TOKEN). Set "
               "RAY_AUTH_TOKEN to the cluster's token",
      "none": "requires a token and this process sends none (RAY_AUTH_MODE "
              "unset, --ray_allow_unauthenticated_cluster was given): export "
              "RAY_AUTH_MODE=token and RAY_AUTH_TOKEN=",
  }
  for name, proc in runs.items():
    code, _, err = finish(proc)
    assert code == 2, err[-4000:]
    [line] = error_lines(err)
    assert expected[name] in line
    assert "Traceback" not in err and "not-the-token" not in err
    assert not os.path.exists(tmp_path / name)  # refused before any write


@pytest.mark.slow
def test_opt_out_runs_and_is_recorded(tmp_path, loopback):
  """A head without token authentication (RAY_AUTH_MODE=disabled): with the
  opt-out the study runs, warns and records it. (Without it the binary
  refuses before any connection: tests/test_ray_security.py.)"""
  head = Head(tmp_path, loopback, "disabled")
  try:
    driver_home = tmp_path / "driver_home"
    driver_home.mkdir()
    out_dir = tmp_path / "allowed"
    code, _, err = finish(run_study(
        loopback, out_dir, head.address, env_with(driver_home),
        "--ray_allow_unauthenticated_cluster"))
    assert code == 0, err[-4000:]
    assert "WITHOUT token authentication" in err
  finally:
    head.stop()
  execution = json.loads((out_dir / "study.json").read_text())["execution"]
  assert execution == {
      "executor": "ray", "ray_address": head.address, "joins_cluster": True,
      "token_auth": False, "token_auth_mode_source": "RAY_AUTH_MODE unset",
      "unauthenticated_cluster_allowed": True}
