# Driftline: `make demo` and `make test` install what they need into .venv/ first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
TOOLS := $(VENV)/tools/bin
STAMP := $(VENV)/.installed
TOOLS_STAMP := $(VENV)/tools/.installed
REGION ?= us-east-1
STACK ?= driftline
export SAM_CLI_TELEMETRY := 0

.PHONY: install tools image-envs demo test test-fast lint build validate aws-smoke deploy clean bench-deps bench chromium

install: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -c 'import sys; assert sys.version_info[:2] == (3, 11), "Driftline needs Python 3.11 (set PYTHON=python3.11)"'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $@

# The SAM CLI and checkov are heavy command-line tools with their own pins; they live in their own
# environment so they never constrain the project's dependencies.
tools: $(TOOLS_STAMP)

$(TOOLS_STAMP): $(STAMP)
	$(PYTHON) -m venv $(VENV)/tools
	$(TOOLS)/pip install -q --upgrade pip
	$(TOOLS)/pip install -q 'aws-sam-cli==1.170.0' 'checkov==3.2.459'
	touch $@

# The local cloud runs each SageMaker job in its image's environment: one virtualenv per image under
# .venv/images/, from the pins in local/driftline_local/images/<image>.txt, on the image's Python when this
# machine has it (python3.10 / python3.12 on PATH or in pyenv), else on Python 3.11. About 45 s from scratch.
IMAGE_PINS := $(wildcard local/driftline_local/images/*.txt)
IMAGE_ENVS := $(patsubst local/driftline_local/images/%.txt,$(VENV)/images/%/.installed,$(IMAGE_PINS))

image-envs: $(IMAGE_ENVS)

$(VENV)/images/%/.installed: local/driftline_local/images/%.txt | $(STAMP)
	$(BIN)/python -m driftline_local.sagemaker.image_envs build $*

demo: $(STAMP) $(IMAGE_ENVS)
	$(BIN)/driftline demo

# The local cloud patches moto process-wide, so each suite runs in its own interpreter.
SUITES := tests/unit tests/template tests/integration/handlers tests/integration/local \
	tests/integration/cli tests/integration/sagemaker tests/e2e tests/aws

# Debian's Chromium: the report tests open each kind of run report in a real browser.
chromium:
	tests/e2e/chromium.sh

test: $(STAMP) $(TOOLS_STAMP) $(IMAGE_ENVS) chromium lint
	@for suite in $(SUITES); do \
	  echo "== $$suite"; \
	  PATH="$(abspath $(BIN)):$(abspath $(TOOLS)):$$PATH" $(BIN)/python -m pytest $$suite || exit $$?; \
	done

# Every bench at a size that fits about 15 minutes on 2 cores: one table, bench/results.json, and the
# README's performance section regenerated from it (bench/all.py).
bench: $(STAMP) $(IMAGE_ENVS) bench-deps
	$(BIN)/python bench/all.py --readme

# bench/monitor.py's peer (Evidently needs pandas < 3): a benchmark-only environment.
bench-deps: $(VENV)/bench-evidently/.installed

$(VENV)/bench-evidently/.installed: bench/requirements-evidently.txt
	$(PYTHON) -m venv $(VENV)/bench-evidently
	$(VENV)/bench-evidently/bin/pip install -q -r bench/requirements-evidently.txt
	touch $@

test-fast: $(STAMP) $(IMAGE_ENVS)
	$(BIN)/python -m pytest tests/unit

lint: $(STAMP)
	$(BIN)/ruff check layers functions local jobs tests bench
	$(BIN)/ruff format --check layers functions local jobs tests bench
	$(BIN)/mypy layers/common/driftline functions local/driftline_local

# With AWS credentials, Step Functions' own validator also checks the substituted definitions.
validate: $(TOOLS_STAMP)
	$(TOOLS)/sam validate --lint --region $(REGION)
	$(BIN)/statelint statemachines/*.asl.json
	$(BIN)/python -m driftline_local.validate_asl $(REGION)

# Deploys a throwaway stack to the account of your credentials, runs the loop once, deletes it all
# (about one US dollar, 60-90 minutes; README, "Real-AWS smoke test").
aws-smoke: $(STAMP) $(TOOLS_STAMP)
	DRIFTLINE_AWS_TESTS=1 AWS_REGION=$(REGION) PATH="$(abspath $(BIN)):$(abspath $(TOOLS)):$$PATH" \
	  $(BIN)/python -m pytest tests/aws -v -s --timeout 7200

build: $(TOOLS_STAMP)
	$(TOOLS)/sam build

# Guided first deploy: image URIs are resolved offline for the region, then the job code is published.
deploy: build
	$(TOOLS)/sam deploy --guided --stack-name $(STACK) --region $(REGION) --capabilities CAPABILITY_IAM \
	  --parameter-overrides $$($(BIN)/driftline images --region $(REGION) --format overrides)
	AWS_REGION=$(REGION) $(BIN)/driftline publish-jobs --bucket $$(aws cloudformation describe-stacks --stack-name $(STACK) \
	  --region $(REGION) --query "Stacks[0].Outputs[?OutputKey=='ArtifactBucketName'].OutputValue" --output text)

clean:
	rm -rf $(VENV) .aws-sam .driftline
