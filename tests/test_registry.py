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


def test_check_choice_names_value_closest_and_known():
  from tfdis.registry import UnknownNameError, check_choice

  assert check_choice("mode", "hyper", ("hyper", "a2a")) == "hyper"
  with pytest.raises(UnknownNameError) as e:
    check_choice("mode", "hyepr", ("hyper", "a2a"))
  assert str(e.value) == ("Unknown mode 'hyepr'. Did you mean 'hyper'? "
                          "Known mode values: hyper, a2a.")
  with pytest.raises(KeyError):  # what callers catching lookups expect
    check_choice("mode", "x", ("hyper",))


def test_spec_choices_checked_by_validate_and_flags():
  import dataclasses

  from absl import flags

  from tfdis import config_flags, specs

  @dataclasses.dataclass
  class _S(specs.Spec):
    mode: str = specs.spec_field("a", "Mode.", choices=("a", "b"))
    items: tuple = specs.spec_field(("a",), "Items.", choices=("a", "b"))

  _S(mode="b", items=("a", "b")).validate()
  with pytest.raises(specs.ConfigError, match="Unknown mode 'c'"):
    _S(mode="c").validate()
  with pytest.raises(specs.ConfigError, match="Unknown items 'z'"):
    _S(items=("a", "z")).validate()
  fv = flags.FlagValues()
  config_flags.define_config_flags(_S, flag_values=fv)
  fv(["prog", "--mode=b", "--items=a,b"])
  assert config_flags.config_from_flags(_S, flag_values=fv) == _S(
      mode="b", items=("a", "b"))
  fv2 = flags.FlagValues()
  config_flags.define_config_flags(_S, flag_values=fv2)
  with pytest.raises(flags.IllegalFlagValueError, match="Unknown items 'q'"):
    fv2(["prog", "--items=a,q"])
  with pytest.raises(flags.IllegalFlagValueError):
    fv2(["prog", "--mode=c"])
