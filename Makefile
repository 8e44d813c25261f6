# Two commands: `make demo` runs evalgate on the example project, `make test` runs the tests.
# Both set up the virtualenv first from requirements.lock (once; again only when the lock,
# pyproject.toml or the setup changes).
VENV ?= .venv
EVALGATE := $(VENV)/bin/evalgate
STAMP := $(VENV)/.evalgate-installed

.PHONY: demo test setup lock test-latest bench serve clean-cache

$(STAMP): pyproject.toml requirements.lock scripts/setup.sh scripts/install_torch.sh
	bash scripts/setup.sh $(VENV)

setup: $(STAMP)

# Re-resolve requirements.lock from pyproject.toml (newest releases inside its ranges; torch as
# named on the lock's `# torch==` line, or TORCH_VERSION=...), then `make setup` installs it.
lock: setup
	TORCH_VERSION=$(TORCH_VERSION) bash scripts/lock.sh $(VENV)

# The tests against the newest release of every dependency, in a throw-away virtualenv (not
# CI): finds a release that breaks evalgate before a new user does.
test-latest:
	bash scripts/test_latest.sh

# The whole pipeline on the example project: baselines → train → gate → promote. Exit 1 means
# "not promoted" (REJECT or INCONCLUSIVE), an honest answer the demo shows rather than hides:
# the demo only fails on bad input (2) or a failed run (3). `QUICK=1 make demo` is the
# first-look profile (30 examples per suite, an eighth of the training steps, never promoted).
demo: setup
	@$(EVALGATE) run $(if $(QUICK),--quick,); \
	code=$$?; if [ $$code -eq 1 ]; then echo "(exit 1: the gate did not promote the adapter; the report says why)"; fi; \
	[ $$code -le 1 ]

test: setup
	$(VENV)/bin/python -m pytest -q

bench: setup
	$(VENV)/bin/python bench/bench_eval.py

# The project's base model on an OpenAI-compatible endpoint (transformers serve, 127.0.0.1),
# with served copies of the baselines: evaluate them through the `openai` backend.
serve: setup
	$(VENV)/bin/python scripts/serve_model.py --port $(or $(PORT),8000)

clean-cache:
	rm -rf .evalgate
