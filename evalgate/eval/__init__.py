"""Running systems on suites: one run (`run.py`), the per-example SQLite cache (`cache.py`), the
run records the gate reads (`records.py`) and every baseline on every suite (`baselines.py`)."""
