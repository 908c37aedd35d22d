"""Where the repository is, for tests that read shipped files or start commands in it."""

from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
