# kdmos_plugin: the three entry points. Each target does all the set-up it
# needs on a fresh machine and is safe to run again.
VENV   ?= .venv
PYTHON := $(VENV)/bin/python
PYTEST_ARGS ?=

.PHONY: install test demo clean

install:  ## virtual environment with the pinned CPU stack (mmcv built once, cached)
	bash tools/install_env.sh $(VENV)

test: install  ## the whole test suite
	bash tools/run_tests.sh $(PYTHON) $(PYTEST_ARGS)

demo: install  ## the main job on the embedded synthetic data
	$(PYTHON) tools/demo.py --work-dir work_dirs/demo

clean:  ## remove work dirs (keeps the venv and the wheel cache)
	rm -rf work_dirs
