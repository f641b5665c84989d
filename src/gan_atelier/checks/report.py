"""What a check returns: its name, what it verified, the mistakes it found (already worded)."""

from __future__ import annotations

from dataclasses import dataclass, field

from ..errors import CheckFailed
from .messages import say


@dataclass
class CheckResult:
    """One check's outcome: ``mistakes`` empty means it passed; ``summary`` is the ✓ line's text."""

    name: str
    lang: str
    summary: str
    mistakes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.mistakes

    def lines(self) -> list[str]:
        """The ✓ line, or the ✗ line followed by one line per mistake."""
        if self.ok:
            return [say("ok", self.lang, name=self.name, what=self.summary)]
        head = say("failed", self.lang, name=self.name, count=len(self.mistakes))
        return [head] + [f"  - {mistake}" for mistake in self.mistakes]

    def __str__(self) -> str:
        return "\n".join(self.lines())


def finish(result: CheckResult, raise_on_failure: bool) -> CheckResult:
    """Print the ✓ line and return the result, or raise CheckFailed naming every mistake."""
    if result.ok or not raise_on_failure:
        if raise_on_failure:
            print(str(result))
        return result
    raise CheckFailed(str(result))
