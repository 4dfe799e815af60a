# Two commands do everything on a fresh machine:
#   make demo   simulate every library model, write figures, a Neo file and a summary to out/
#   make test   lint and run the test suite
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp

.PHONY: demo test test-fast lint benchmark clean nest-mpi

$(STAMP): pyproject.toml tools/bootstrap.sh
	tools/bootstrap.sh $(VENV)
	touch $@

demo: $(STAMP)
	$(PY) -m sourced_neuron.cli.demo --out out

lint: $(STAMP)
	$(PY) -m ruff check sourced_neuron tests benchmarks examples
	$(PY) -m ruff format --check sourced_neuron tests benchmarks examples

test: lint
	$(PY) -m pytest

test-fast: $(STAMP)
	$(PY) -m pytest -m "not slow"

# opt-in: NEST built from source with MPI, replacing the wheel in the environment (30-60 min)
nest-mpi: $(STAMP)
	tools/build_nest_mpi.sh $(VENV)

benchmark: $(STAMP)
	$(PY) benchmarks/lif_network.py

clean:
	rm -rf out .pytest_cache .hypothesis
