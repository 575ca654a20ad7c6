# Every target works from a fresh clone: it creates .venv and installs what it needs when missing.
PY      ?= python3
VENV    := .venv
BIN     := $(VENV)/bin
STAMP   := $(VENV)/.installed
# Small recurrent models run faster on one BLAS thread than on several (and results repeat exactly).
export OPENBLAS_NUM_THREADS ?= 1
export OMP_NUM_THREADS ?= 1
export MKL_NUM_THREADS ?= 1

# `make demo ARGS="--minutes 5"` passes flags on to demos/demo.py.
ARGS    ?=

.PHONY: test demo bench lint venv clean pictures

$(BIN)/python:
	$(PY) -m venv $(VENV)

# setuptools prints a boxed notice on every editable install (same-named folders may shadow the
# package); it is not about this project, so the install stays quiet.
$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install -q --upgrade pip
	PYTHONWARNINGS="ignore:Editable installation" $(BIN)/python -m pip install -q -e ".[test,lint]"
	touch $(STAMP)

venv: $(STAMP)

test: $(STAMP)
	$(BIN)/python -m pytest

demo: $(STAMP)
	$(BIN)/python demos/demo.py $(ARGS)

bench: $(STAMP)
	$(BIN)/python -m benchmarks

pictures: $(STAMP)   # the docs' SVGs and docs/pictures.ipynb (tests/test_pictures.py checks them)
	$(BIN)/python docs/make_pictures.py

lint: $(STAMP)
	$(BIN)/ruff check tinygrad_rnn tests demos benchmarks

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis build *.egg-info
