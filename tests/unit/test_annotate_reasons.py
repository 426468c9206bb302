"""Why a text is shown on Annotate: every way a text gets there has its own plain words."""
import pytest

from core import store
from core.labeling import annotate
from core.learning import strategies
from core.team import auth
from tests.unit.test_store import make_project

FALLBACK = "Chosen by the model's query strategy."
MODEL_PAGE = {
    "model got it wrong on the eval sample": "got this eval text wrong",
    "the last two versions disagree": "versions disagree",
}


def words(why: str) -> str:
    return annotate.describe(annotate.NextText(1, "a text", {}, store.POOL, why, 0.5, None))[0]


@pytest.mark.parametrize("name", sorted(strategies.STRATEGIES))
def test_every_strategy_has_its_own_words(name):
    assert words(name) != FALLBACK
    others = {words(other) for other in strategies.STRATEGIES if other != name}
    assert words(name) not in others, f"{name} shares its words with another strategy"


def test_the_model_pages_entry_points_have_their_own_words():
    assert annotate.FROM_EVAL_MISTAKE in MODEL_PAGE and annotate.FROM_VERSION_DISAGREEMENT in MODEL_PAGE
    for why, phrase in MODEL_PAGE.items():
        assert phrase in words(why) and words(why) != FALLBACK
    every = set(strategies.STRATEGIES) | set(MODEL_PAGE) | {"cold start: kmeans", "keyword search", "undo"}
    assert len({words(why) for why in every}) == len(every)


def test_a_text_opened_from_the_model_page_says_why(db):
    pid = make_project(db)
    example_id = store.example_ids(db, pid)[1]
    for why, phrase in MODEL_PAGE.items():
        shown = annotate.show_example(db, auth.local_actor("ann"), pid, example_id, why)
        plain, detail = annotate.describe(shown)
        assert phrase in plain and plain != FALLBACK
