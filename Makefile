# fcast: `make run` sets up and runs the demo job; `make test` sets up and runs the tests.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)

.PHONY: run test test-all test-min lint docs setup clean constraints image bench-accuracy bench-speed bench-halving bench-scale bench-totals mutate

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet -e '.[dev,viz,k8s,sql,docs,totals]'
	rm -f $(VENV)/.installed-* && touch $(STAMP)

setup: $(STAMP)

run: setup
	$(BIN)/fcast demo

# the test files on TEST_WORKERS processes (pytest-xdist; a file's tests stay together, in order)
TEST_WORKERS ?= 2
test: setup
	$(BIN)/python -m pytest -q -rs -n $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder --durations=15

test-all: setup
	$(BIN)/python -m pytest -q -rs -n $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder -m ''

# the API reference and the topic pages, into site/ (mkdocs.yml); warnings fail the build
docs: setup
	$(BIN)/mkdocs build --strict

# The tests that exercise the core install against the lowest versions pyproject.toml allows:
# .venv-min gets fcast with ci/min-versions.txt (every lower bound as an exact pin) as pip
# constraints. Outcome and when it was last run: docs/development.md.
MIN_VENV ?= .venv-min
MIN_STAMP := $(MIN_VENV)/.installed-$(shell cat pyproject.toml ci/min-versions.txt 2>/dev/null | cksum | cut -d' ' -f1)

ci/min-versions.txt: pyproject.toml ci/min_versions.py
	$(PYTHON) ci/min_versions.py > $@

$(MIN_STAMP): ci/min-versions.txt
	rm -rf $(MIN_VENV)
	$(PYTHON) -m venv $(MIN_VENV)
	$(MIN_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(MIN_VENV)/bin/python -m pip install --quiet --only-binary=:all: -c ci/min-versions.txt \
		-e . 'pytest>=8' 'pytest-timeout>=2.3'
	touch $@

test-min: $(MIN_STAMP)
	$(MIN_VENV)/bin/fcast --help > /dev/null
	$(MIN_VENV)/bin/fcast validate configs/demo.yaml
	nice -n 10 $(MIN_VENV)/bin/python -m pytest -q -rs -x -p no:cacheprovider \
		tests/core tests/data tests/markets tests/test_config.py

# clusters/constraints.txt, the versions the image installs: everything in the project venv
# (all extras, the tests passed with them), without the editable fcast itself
constraints: setup
	$(BIN)/python -m pip install --quiet -e '.[dev,viz,k8s,sql,docs,cloud,totals]'
	{ echo "# Versions the image installs (clusters/kubernetes/Dockerfile): pip freeze of the project"; \
	  echo "# venv with every extra, without fcast itself. Regenerate after changing dependencies"; \
	  echo "# and passing make test: make constraints"; \
	  $(BIN)/python -m pip freeze --exclude-editable | grep -v '^fcast[ =@]'; } > clusters/constraints.txt

# Build and push the image, then pin the pushed digest in clusters/kubernetes/deploy/
# kustomization.yaml (the manifests run only that digest). Needs a Docker engine and a login
# to the registry: make image IMAGE=registry.example.com/fcast
IMAGE ?= registry.example.com/fcast
IMAGE_TAG ?= $(shell $(PYTHON) -c "import tomllib; print(tomllib.load(open('pyproject.toml', 'rb'))['project']['version'])")-$(shell git rev-parse --short HEAD)
image:
	docker build -f clusters/kubernetes/Dockerfile --build-arg FCAST_IMAGE=$(IMAGE):$(IMAGE_TAG) -t $(IMAGE):$(IMAGE_TAG) .
	docker push $(IMAGE):$(IMAGE_TAG)
	$(PYTHON) clusters/pin_image.py "$$(docker image inspect --format '{{range .RepoDigests}}{{println .}}{{end}}' $(IMAGE):$(IMAGE_TAG) | grep -m1 '^$(IMAGE)@')"

# Mutation testing of the core ([tool.mutmut] in pyproject.toml; docs/testing.md): on demand,
# not part of `make test`. One worker, niced; results are cached in mutants/ (rm -rf mutants
# for a fresh run). Prints killed/total and lists the survivors.
MUTATE_CHILDREN ?= 1
mutate: setup
	OMP_NUM_THREADS=1 nice -n 15 $(BIN)/mutmut run --max-children $(MUTATE_CHILDREN)
	$(BIN)/mutmut export-cicd-stats
	$(BIN)/mutmut results
	$(BIN)/python ci/mutation_score.py mutants/mutmut-cicd-stats.json

lint: setup
	$(BIN)/ruff check fcast tests benchmarks
	$(BIN)/ruff format --check fcast tests benchmarks
	$(BIN)/lint-imports

clean:
	rm -rf fcast-store .pytest_cache site

bench-accuracy: setup
	$(BIN)/python -m pip install --quiet -e '.[bench]'
	$(BIN)/python benchmarks/accuracy.py

bench-speed: setup
	$(BIN)/python -m pip install --quiet -e '.[bench]'
	$(BIN)/python benchmarks/speed.py

# successive halving vs the full grid: sample data, then Tourism monthly (6 and 3 CV splits)
bench-halving: setup
	$(BIN)/python -m pip install --quiet -e '.[bench]'
	$(BIN)/python benchmarks/halving.py
	$(BIN)/python benchmarks/halving.py --dataset tourism-monthly
	$(BIN)/python benchmarks/halving.py --dataset tourism-monthly --splits 3 --step 12

# 100 / 1,000 / 10,000 generated markets, tuning and weekly job: results/scale.json
# (10,000 takes a few hours on 2 cores; MARKETS=100,1000 for a shorter run)
MARKETS ?= 100,1000,10000
bench-scale: setup
	$(BIN)/python benchmarks/scale.py --markets $(MARKETS)

# totals and groups: reconciled vs bottom-up vs direct on the sample and Tourism quarterly
bench-totals: setup
	$(BIN)/python -m pip install --quiet -e '.[bench,totals]'
	nice -n 10 $(BIN)/python benchmarks/totals.py
