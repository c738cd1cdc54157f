"""The scheduler: follow-up nudges planned from the database and fired once (see scheduler/runtime.py)."""
