"""Known answers of the shared value checks (tfdis.checks) and of the one
"not one of" check (tfdis.registry.check_choice) as the library uses them."""

import math

import numpy as np
import pytest

from tfdis.checks import MAX_INT, check_count, is_int, is_number
from tfdis.errors import UserError
from tfdis.registry import UnknownNameError, check_choice


def test_is_int_is_strict():
  assert is_int(0) and is_int(5, 1) and is_int(MAX_INT)
  assert not is_int(-1)                 # default low is 0
  assert not is_int(MAX_INT + 1)        # int64 is the ceiling
  assert not is_int(True, 0)            # a bool is not an int here
  assert not is_int(2.0, 1)             # config fields must be real ints
  assert not is_int(np.int64(3))        # flags and JSON give Python ints
  assert is_int(7, 1, 7) and not is_int(8, 1, 7)


def test_is_number():
  assert is_number(1) and is_number(0.5) and is_number(-3)
  assert not is_number(True)
  assert not is_number(math.inf) and not is_number(math.nan)
  assert not is_number("1")


def test_check_count_accepts_integral_values_from_arrays():
  assert check_count("n", 3) == 3
  assert check_count("n", np.int64(4)) == 4
  assert check_count("n", 5.0) == 5
  assert isinstance(check_count("n", np.int32(2)), int)
  assert check_count("n", 0, 0) == 0


@pytest.mark.parametrize("value", [0, -2, 2.5, True])
def test_check_count_refuses_with_name_bound_and_value(value):
  with pytest.raises(ValueError, match=r"^n must be an integer >= 1, got "):
    check_count("n", value)


def test_check_count_error_type():
  class Bad(UserError, ValueError):
    pass

  with pytest.raises(Bad, match="bins must be an integer >= 2, got 1"):
    check_count("bins", 1, 2, error=Bad)


def test_library_choices_use_the_registry_wording():
  from tfdis.metrics.classifiers import check_classifier
  from tfdis.udr.scores import pair_score

  with pytest.raises(UnknownNameError,
                     match=r"^Unknown classifier 'hist_gtb'\. Did you mean "
                     r"'hist_gbt'\? Known classifier values: gbt, hist_gbt\.$"):
    check_classifier("hist_gtb")
  with pytest.raises(ValueError, match="Known aggregation values: "
                     "relative_strength, paper"):
    pair_score(np.eye(2), "mean")
  assert check_choice("x", "a", ("a", "b")) == "a"
