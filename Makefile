# Two commands a newcomer needs: `make quickstart` (the main job) and `make test`.
# Each creates/updates the local virtual environment from the pinned
# requirements.txt first, so it works on a fresh clone with only Python 3.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export TF_CPP_MIN_LOG_LEVEL ?= 2
export PYTHONUNBUFFERED := 1

.PHONY: venv test quickstart clean-venv

venv: $(STAMP)

# The Ray extra (requirements-ray.txt, = setup.cfg's [ray]) is installed too,
# so `make test` exercises the Ray executor on a local 2-CPU Ray instance.
$(STAMP): requirements.txt requirements-ray.txt setup.cfg
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -r requirements.txt -r requirements-ray.txt
	$(BIN)/python -m pip install -q --no-deps --no-build-isolation -e .
	touch $(STAMP)

# Two pytest-xdist workers: most tests wait on subprocesses (a TensorFlow
# import, a Ray head), so two workers on 2 cores about halve the wall time.
# A test module runs on one worker (its module-scoped fixtures are built
# once); the Ray test modules all run on one worker, one after another
# (tests/conftest.py; xdist's loadgroup ignores its marks under pytest 9.2).
# `make test PYTEST_ARGS="-n 0"` runs serially; a plain
# `pytest tests/test_x.py::test_y` is serial too.
PYTEST_XDIST ?= -n 2 --dist loadfile

test: $(STAMP)
	$(BIN)/python -m pytest -q $(PYTEST_XDIST) $(PYTEST_ARGS)

quickstart: $(STAMP)
	$(BIN)/tfdis_study --study=quickstart --output_dir=runs/quickstart $(ARGS)

clean-venv:
	rm -rf $(VENV)
