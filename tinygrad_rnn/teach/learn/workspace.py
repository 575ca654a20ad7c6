"""The learner's work folder: one file per started exercise, and progress.json.

    learn/01_unary_backward.py   written once by `learn start 1`, then the learner's own
    learn/progress.json          {"1": {"status": "passed", "checks": 3, "hints": 1}, ...}
progress.json is written atomically (a temporary file, then a rename), so an interrupted check
never leaves it half written; an unreadable one is an error that says how to fix it.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

from tinygrad_rnn.teach.learn.exercise import Exercise

__all__ = ["LearnError", "Workspace"]

PROGRESS = "progress.json"


class LearnError(ValueError):
    """Bad input to `learn` (an unknown exercise, a missing file): one line, exit status 2."""


class Workspace:
    """The work folder at `root` (created on the first `start`)."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    def path(self, number: int, exercise: Exercise) -> Path:
        """Where exercise `number`'s file lives."""
        return self.root / f"{number:02d}_{exercise.slug}.py"

    def progress(self) -> dict[str, dict[str, Any]]:
        """Exercise number (as text) → its record; {} before anything was done."""
        path = self.root / PROGRESS
        if not path.exists():
            return {}
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
            raise LearnError(f"{path} is unreadable ({e}); delete it to start the record "
                             f"afresh (your exercise files are kept)") from None
        if not isinstance(data, dict):
            raise LearnError(f"{path} is not a progress record; delete it to start afresh")
        return data

    def record(self, number: int) -> dict[str, Any]:
        """One exercise's record: status (not started, started, wrong, passed), checks, hints."""
        entry = self.progress().get(str(number), {})
        return {"status": "not started", "checks": 0, "hints": 0,
                **(entry if isinstance(entry, dict) else {})}

    def update(self, number: int, **changes: Any) -> dict[str, Any]:
        """Change one exercise's record and save the whole record atomically."""
        progress = self.progress()
        entry = {**self.record(number), **changes}
        progress[str(number)] = entry
        self.root.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.root, prefix=".progress-", suffix=".json")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                json.dump(progress, f, indent=1, sort_keys=True)
            os.replace(tmp, self.root / PROGRESS)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return entry

    def start(self, number: int, exercise: Exercise) -> bool:
        """Write the stub unless the file exists (a learner's file is never overwritten);
        True if it was written."""
        path = self.path(number, exercise)
        self.root.mkdir(parents=True, exist_ok=True)
        try:
            with open(path, "x", encoding="utf-8") as f:    # "x": fails if it exists
                f.write(exercise.stub)
        except FileExistsError:
            return False
        if self.record(number)["status"] == "not started":
            self.update(number, status="started")
        return True
