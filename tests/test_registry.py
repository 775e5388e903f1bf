import pytest

from tfdis.registry import Registry, UnknownNameError


def test_unknown_name_lists_known_ones():
  reg = Registry("model")
  reg.register("beta_vae", object())
  reg.register("factor_vae", object())
  with pytest.raises(UnknownNameError) as e:
    reg.get("beta_vea")
  msg = str(e.value)
  assert "beta_vae, factor_vae" in msg and "Did you mean 'beta_vae'" in msg


def test_double_registration_rejected():
  reg = Registry("metric")
  reg.register("mig", 1)
  with pytest.raises(ValueError):
    reg.register("mig", 2)
