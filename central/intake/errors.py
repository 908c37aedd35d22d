"""The errors of automatic intake: what went wrong with a source, in Vietnamese and English.

A source's last error (``intake_sources.last_error``) is ``IntakeError.as_dict()``; codes are
stable (``intake.<reason>``), so they can be counted and looked up in docs/intake.md.
"""

from __future__ import annotations

from protocol.errors import CommuneRadioError


class IntakeError(CommuneRadioError):
    """A source could not be read, or what it gave was refused; nothing was changed."""

    code = "intake"

    def __init__(self, vi: str, en: str, *, reason: str) -> None:
        super().__init__(vi, en, code=f"intake.{reason}")
        self.reason = reason


def intake_error(reason: str, vi: str, en: str) -> IntakeError:
    return IntakeError(vi, en, reason=reason)
