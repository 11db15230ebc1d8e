"""`flask demo setup` hook: the escalation ladder as the scheduler would have left it today.

The demo history has overdue milestones; the scheduler's daily deadline scan is what sends their
reminders and 催办/督办 notices. Running the same scan once (it is idempotent and catches up on
missed days) means that the first visit already shows each overdue item with its notice.
"""

from taskflow.core import clock
from taskflow.notices.jobs import scan_deadlines


def setup_demo(plan, echo) -> None:
    """Run today's deadline scan, as the scheduler does each morning."""
    counts = scan_deadlines(clock.local_today(), commit=False)
    refusal = getattr(counts, "refusal", None)
    if refusal is not None:
        echo(f"notices: deadline scan not run ({refusal.message()})")
        return
    shown = ", ".join(f"{key}={value}" for key, value in sorted(counts.items())) or "nothing due"
    echo(f"notices: deadline scan {shown}")
