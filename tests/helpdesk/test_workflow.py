import pytest

from helpdesk.models import TicketStatus as S
from helpdesk.workflow import TRANSITIONS, TransitionNotAllowed, check_transition


@pytest.mark.parametrize(
    ("old", "new"),
    [(S.BOT, S.NEW), (S.NEW, S.OPEN), (S.OPEN, S.PENDING), (S.PENDING, S.OPEN), (S.ON_HOLD, S.SOLVED),
     (S.SOLVED, S.OPEN), (S.SOLVED, S.CLOSED), (S.OPEN, S.OPEN)],
)  # fmt: skip
def test_allowed_transitions(old, new):
    check_transition(old, new)


@pytest.mark.parametrize(
    ("old", "new"),
    [
        (S.CLOSED, S.OPEN),
        (S.CLOSED, S.SOLVED),
        (S.NEW, S.CLOSED),
        (S.OPEN, S.CLOSED),
        (S.OPEN, S.BOT),
        (S.SOLVED, S.PENDING),
    ],
)
def test_forbidden_transitions_explain_what_is_possible(old, new):
    with pytest.raises(TransitionNotAllowed) as error:
        check_transition(old, new)
    assert repr(str(old)) in str(error.value)


def test_every_status_has_a_rule_and_only_closed_is_final():
    assert set(TRANSITIONS) == set(S.values)
    assert [status for status, targets in TRANSITIONS.items() if not targets] == [S.CLOSED]
    # Back to the bot only from solved: a chat whose widget lets the bot take returning customers.
    assert [status for status, targets in TRANSITIONS.items() if S.BOT in targets] == [S.SOLVED]
