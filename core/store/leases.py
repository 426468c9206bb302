"""Who may be shown which text: leases, second labels for agreement, skips, the shuffled order."""
from __future__ import annotations

import sqlite3

from core.store.db import eval_order_key, now, overlap_key
from core.store.enums import Action
from core.store.labels import IMPORTED, in_effect, not_undone

def overlap_chosen(project_id: int, example_id: int, overlap_percent: float) -> bool:
    return overlap_key(project_id, example_id) < overlap_percent / 100.0


def label_holders(conn: sqlite3.Connection, project_id: int, example_id: int) -> set[str]:
    """The annotators who have a label of this example in effect."""
    return {r[0] for r in conn.execute(
        f"""SELECT annotator FROM annotations a INDEXED BY annotations_project WHERE a.project_id = ? AND a.example_id = ?
             AND {in_effect("a")}""",
        (project_id, example_id))}


def second_label_open(project_id: int, example_id: int, holders: set[str], annotator: str,
                      overlap_percent: float) -> bool:
    """Whether `annotator` may (still) label a text these annotators have labeled: nobody else
    has, or it is a text chosen for overlap and exactly one other annotator (not an import) has."""
    others = holders - {annotator}
    if not others:
        return True
    return (len(others) == 1 and IMPORTED not in others and annotator not in holders
            and overlap_chosen(project_id, example_id, overlap_percent))


def waiting_for_second_label(db, project_id: int, annotator: str, split: str, overlap_percent: float,
                             limit: int = 200) -> list[int]:
    """Texts chosen for overlap that one other annotator labeled and that wait for a second label,
    the longest-waiting first (read outside the claim transaction; the claim checks again)."""
    if overlap_percent <= 0:
        return []
    rows = db.conn.execute(
        f"""SELECT a.example_id FROM annotations a JOIN examples e ON e.id = a.example_id
           WHERE a.project_id = ? AND e.split = ? AND {in_effect("a")}
             AND sieve_overlap_key(a.project_id, a.example_id) < ?
           GROUP BY a.example_id
           HAVING count(DISTINCT a.annotator) = 1 AND min(a.annotator) NOT IN (?, ?)
           ORDER BY min(a.id) LIMIT ?""",
        (project_id, split, overlap_percent / 100.0, annotator, IMPORTED, limit))
    return [r[0] for r in rows]


def lease_holder(conn: sqlite3.Connection, project_id: int, example_id: int) -> str | None:
    """Who holds a live (unexpired) lease on this example, None if nobody."""
    row = conn.execute("SELECT annotator FROM leases WHERE project_id = ? AND example_id = ? AND expires_at > ?",
                       (project_id, example_id, now())).fetchone()
    return row[0] if row else None


def unavailable(conn: sqlite3.Connection, project_id: int, annotator: str, example_ids: list[int],
                overlap_percent: float = 0.0) -> set[int]:
    """Of these examples (at most ~400), those this annotator may not be given: leased live to
    someone else, labeled by them, or labeled by someone else (unless `second_label_open`).

    Point look-ups by index, so a claim inside the write transaction costs well under a millisecond.
    """
    marks = ",".join("?" * len(example_ids))
    holders: dict[int, set[str]] = {}
    for example_id, holder in conn.execute(
            f"""SELECT a.example_id, a.annotator FROM annotations a INDEXED BY annotations_project
                WHERE a.project_id = ? AND a.example_id IN ({marks}) AND {in_effect("a")}""",
            (project_id, *example_ids)):
        holders.setdefault(example_id, set()).add(holder)
    taken = {i for i, names in holders.items()
             if annotator in names or not second_label_open(project_id, i, names, annotator, overlap_percent)}
    taken.update(r[0] for r in conn.execute(
        f"""SELECT example_id FROM leases
            WHERE project_id = ? AND example_id IN ({marks}) AND annotator != ? AND expires_at > ?""",
        (project_id, *example_ids, annotator, now())))
    return taken


def skipped_by(conn: sqlite3.Connection, project_id: int, annotator: str, split: str) -> list[int]:
    """Examples of this split the annotator skipped (skip not undone), the longest-ago skip first."""
    rows = conn.execute(
        # Read the annotator's own rows (by index), not every annotation of the project: without
        # statistics the planner prefers annotations_project for the GROUP BY.
        f"""SELECT a.example_id, max(a.id) AS last_skip
           FROM annotations a INDEXED BY annotations_annotator CROSS JOIN examples e ON e.id = a.example_id
           WHERE a.project_id = ? AND a.annotator = ? AND a.action = '{Action.SKIP}' AND e.split = ?
             AND {not_undone("a")}
           GROUP BY a.example_id ORDER BY last_skip""",
        (project_id, annotator, split),
    )
    return [r[0] for r in rows]


# A fixed shuffled order of a project's texts (a bijection of the id, so keys are unique), for
# texts no queue covers; the expression index examples_shuffled reads it in order from any point.
SHUFFLE_KEY = "((id * 2654435761) % 4294967296)"


def shuffled_examples(conn: sqlite3.Connection, project_id: int, split: str, from_key: int, to_key: int,
                      limit: int) -> list[tuple[int, int]]:
    """(example id, shuffle key) with from_key <= key < to_key, in shuffled order, at most `limit`."""
    return conn.execute(
        f"""SELECT id, {SHUFFLE_KEY} FROM examples WHERE project_id = ? AND split = ?
              AND {SHUFFLE_KEY} >= ? AND {SHUFFLE_KEY} < ? ORDER BY {SHUFFLE_KEY} LIMIT ?""",
        (project_id, split, from_key, to_key, limit)).fetchall()


def eval_in_order(db, project_id: int) -> list[int]:
    """The eval texts nobody has labeled yet, in the project's fixed shuffled order (`eval_order_key`).

    Every annotator takes the first free one, so the labeled eval texts are always the head of one
    uniform shuffle: a simple random sample of the eval sample. (Before issue 20 each claim read
    the ring from a random point, which picks a text with the chance of the gap before it: not
    uniform, and the labeled set was no prefix of anything.) Read outside the claim transaction;
    the claim checks each text again. The eval sample is small (at most a few hundred per import)."""
    rows = db.conn.execute(
        f"""SELECT e.id FROM examples e WHERE e.project_id = ? AND e.split = 'eval'
              AND NOT EXISTS (SELECT 1 FROM annotations a INDEXED BY annotations_project
                              WHERE a.project_id = e.project_id AND a.example_id = e.id AND {in_effect("a")})""",
        (project_id,)).fetchall()
    return sorted((r[0] for r in rows), key=lambda example_id: eval_order_key(project_id, example_id))


def own_lease(conn: sqlite3.Connection, project_id: int, annotator: str, split: str) -> int | None:
    """The unlabeled text of this split the annotator holds a live lease on (shown, not yet answered)."""
    row = conn.execute(
        f"""SELECT l.example_id FROM leases l JOIN examples e ON e.id = l.example_id
           WHERE l.project_id = ? AND l.annotator = ? AND l.expires_at > ? AND e.split = ?
             AND NOT EXISTS (SELECT 1 FROM annotations a WHERE a.project_id = l.project_id
                               AND a.example_id = l.example_id AND a.annotator = l.annotator AND {in_effect("a")})
           LIMIT 1""", (project_id, annotator, now(), split)).fetchone()
    return row[0] if row else None


def lease(conn: sqlite3.Connection, project_id: int, example_id: int, annotator: str, seconds: float) -> bool:
    """Lease an example to an annotator; True if it is now theirs.

    A live lease of someone else is never taken over (they are reading the text); an expired
    one is, and the annotator's own lease is renewed. Call inside `transaction()`.
    """
    t = now()
    cur = conn.execute(
        """INSERT INTO leases (project_id, example_id, annotator, expires_at) VALUES (?, ?, ?, ?)
           ON CONFLICT (project_id, example_id) DO UPDATE SET annotator = excluded.annotator,
               expires_at = excluded.expires_at
           WHERE leases.annotator = excluded.annotator OR leases.expires_at <= ?""",
        (project_id, example_id, annotator, t + seconds, t),
    )
    return cur.rowcount > 0


def release_leases(conn: sqlite3.Connection, project_id: int, annotator: str) -> None:
    conn.execute("DELETE FROM leases WHERE project_id = ? AND annotator = ?", (project_id, annotator))


