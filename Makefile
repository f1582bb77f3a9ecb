# The two commands of the README. Each sets up its own virtual environment (.venv) from the
# pinned constraints on first use, so a fresh machine needs only Python 3.11 and make.
PYTHON ?= python3.11
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# The book and the tests run the CPU profile, GPU or not (the chapters' own default is auto).
LABKIT_PROFILE ?= quick
export LABKIT_PROFILE

.PHONY: setup test book browser lint unit backends notebooks book-check sync clean release-check

setup: $(STAMP)

$(STAMP): pyproject.toml requirements/constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -c requirements/constraints.txt -e ".[tensorflow,jax,book,test]"
	touch $(STAMP)

# The whole test suite: lint, labkit unit tests (TensorFlow, then the backend-neutral ones on JAX
# and PyTorch), every chapter executed under nbval,
# then the book built with Sphinx warnings as errors (structure only: nbval executed it).
test: setup lint unit backends notebooks book-check

lint: setup
	$(BIN)/ruff check labkit labkit_cli.py tests tools book benchmarks
	$(BIN)/ruff format --check labkit labkit_cli.py tests tools benchmarks
	$(BIN)/check-jsonschema --builtin-schema vendor.github-workflows .github/workflows/*.yml

# Before tagging v<version>: the version, _config.yml's labkit_release and the tag agree, and
# repository.url is a real home (.github/workflows/release.yml runs the same check on a v* tag).
release-check: setup
	$(BIN)/python tools/release_check.py

# Two workers (pytest-xdist), one per core of CI's machine (timings: benchmarks/README.md).
unit: setup
	$(BIN)/python -m pytest -p no:cacheprovider -n 2 --durations=10 tests

# The backend-neutral tests (marked "backends") again on JAX and on PyTorch, each in a process
# where TensorFlow cannot be imported (tests/_backend.py), as on a machine without it.
backends: setup
	KERAS_BACKEND=jax $(BIN)/python -m pytest -p no:cacheprovider -m backends --durations=5 tests
	KERAS_BACKEND=torch $(BIN)/python -m pytest -p no:cacheprovider -m backends --durations=5 tests

notebooks: setup
	$(BIN)/python -m pytest -p no:cacheprovider --nbval-lax --nbval-current-env \
		--nbval-cell-timeout=900 --durations=15 book

book-check: setup
	$(BIN)/python tools/build_book.py --no-execute

# The main job: build the HTML book, executing every chapter (cached in _build/.jupyter_cache),
# then open every page in headless Chromium (tools/check_book.py: executed figures, internal
# links and anchors, console errors; a screenshot per page in _build/screenshots).
book: setup browser
	$(BIN)/python tools/build_book.py
	$(BIN)/python tools/check_book.py

# Debian's chromium and its driver, for the browser check (installed when run as root).
browser:
	@if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null; then \
		if [ "$$(id -u)" = 0 ]; then \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
				apt-get install -y -qq chromium chromium-driver >/dev/null; \
		else \
			echo "make book checks the built pages in Chromium: install Debian's chromium" \
				"and chromium-driver (sudo apt-get install chromium chromium-driver)" >&2; \
			exit 1; \
		fi; \
	fi

# Write each chapter's Colab install cell from _config.yml, then regenerate the Colab notebooks
# (book/*.ipynb) from the MyST sources (book/*.md).
sync: setup
	$(BIN)/python tools/colab_cells.py
	$(BIN)/jupytext --sync book/*.md

clean:
	rm -rf _build .pytest_cache
