"""How one annotator is getting on (issue 20 item 9): the pace of the current session and progress
against the pool and the label budget, for the Annotate page."""
from __future__ import annotations

import statistics
from dataclasses import dataclass

from core import store

SESSION_GAP_S = 30 * 60  # a pause longer than this between two labels starts a new session
# Labels per hour is shown only from MIN_RATE_LABELS labels over MIN_RATE_MINUTES minutes on: two
# labels 3 s apart read "2560 labels/hour" (new-user trial, issue 20), a rate nobody keeps up. Ten
# labels over two minutes put one slow or fast text at about a tenth of the figure, and take in
# the pauses a session has (reading guidelines, a second look).
MIN_RATE_LABELS = 10
MIN_RATE_MINUTES = 2.0


@dataclass(frozen=True)
class Pace:
    """The annotator's current session: labels since their last pause of SESSION_GAP_S or more."""

    labels: int  # texts labeled in the session whose label no undo took back (a label given again counts once)
    minutes: float  # from the first label's showing to the newest label
    seconds_per_label: float | None  # median time a text was shown before its label
    labels_per_hour: float | None  # None until MIN_RATE_LABELS labels over MIN_RATE_MINUTES minutes

    def words(self) -> str:
        if not self.labels:
            return "No labels yet in this session."
        parts = [f"{self.labels} label{'' if self.labels == 1 else 's'} in {self.minutes:.0f} min"]
        if self.labels_per_hour is not None:
            parts.append(f"{self.labels_per_hour:.0f} labels/hour")
        if self.seconds_per_label is not None:
            parts.append(f"{self.seconds_per_label:.1f} s per label")
        return " · ".join(parts)


def session_pace(db, project_id: int, annotator: str, now: float | None = None) -> Pace:
    """The session's labels counted from the store: the texts with a label of this session in effect
    (a label undone is not one; a text labeled, undone and labeled again is one). Its span runs over
    every label of the session, undone ones too: that time was spent."""
    times = store.recent_label_times(db, project_id, annotator)  # newest first
    now = store.now() if now is None else now
    if not times or now - times[0][0] > SESSION_GAP_S:
        return Pace(0, 0.0, None, None)
    session = [times[0]]
    for row in times[1:]:
        if session[-1][0] - row[0] > SESSION_GAP_S:
            break
        session.append(row)
    kept = [row for row in session if not row[3]]
    labels = len({example_id for _, _, example_id, _ in kept})
    shown = [seconds for _, seconds, _, _ in kept if seconds is not None]
    first_shown = session[-1][1] or 0.0  # the first label's text was on screen this long before it
    span = session[0][0] - session[-1][0] + first_shown
    enough = labels >= MIN_RATE_LABELS and span >= MIN_RATE_MINUTES * 60
    per_hour = labels * 3600 / span if enough else None
    return Pace(labels, span / 60, statistics.median(shown) if shown else None, per_hour)


@dataclass(frozen=True)
class Progress:
    """Labels against what there is to label and the budget (counts of texts with a label in effect)."""

    pool_labeled: int
    pool: int
    eval_labeled: int
    eval: int
    budget: int | None

    @property
    def labeled(self) -> int:
        return self.pool_labeled + self.eval_labeled

    def pool_words(self) -> str:
        share = f" ({self.pool_labeled / self.pool:.0%})" if self.pool else ""
        return f"{self.pool_labeled:,} of {self.pool:,} pool texts labeled{share}"

    def budget_words(self) -> str | None:
        if not self.budget:
            return None
        left = self.budget - self.labeled
        return (f"{self.labeled:,} of a budget of {self.budget:,} labels"
                + (f": {left:,} to go" if left > 0 else ": the budget is spent"))

    def budget_fraction(self) -> float | None:
        return min(1.0, self.labeled / self.budget) if self.budget else None
