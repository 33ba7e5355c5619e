"""The ticket status machine: which status may follow which."""

from helpdesk.models import TicketStatus as S

TRANSITIONS: dict[str, frozenset[str]] = {
    S.BOT: frozenset({S.NEW, S.OPEN, S.PENDING, S.SOLVED}),
    S.NEW: frozenset({S.OPEN, S.PENDING, S.ON_HOLD, S.SOLVED}),
    S.OPEN: frozenset({S.PENDING, S.ON_HOLD, S.SOLVED}),
    S.PENDING: frozenset({S.OPEN, S.ON_HOLD, S.SOLVED}),
    S.ON_HOLD: frozenset({S.OPEN, S.PENDING, S.SOLVED}),
    S.SOLVED: frozenset({S.OPEN, S.CLOSED, S.BOT}),  # back to the bot: a chat whose widget says so
    S.CLOSED: frozenset(),
}

# A customer writing again puts the ticket back in front of the agents.
REOPENED_BY_CUSTOMER_REPLY = frozenset({S.PENDING, S.ON_HOLD, S.SOLVED})


class TransitionNotAllowed(Exception):
    def __init__(self, old: str, new: str):
        old, new = str(old), str(new)
        allowed = ", ".join(sorted(map(str, TRANSITIONS.get(old, ())))) or "none (final)"
        super().__init__(f"A ticket cannot go from '{old}' to '{new}'; from '{old}' it can go to: {allowed}.")
        self.old = old
        self.new = new


def check_transition(old: str, new: str) -> None:
    if new not in TRANSITIONS:
        raise ValueError(f"Unknown status {new!r}")
    if new != old and new not in TRANSITIONS[old]:
        raise TransitionNotAllowed(old, new)
