"""SimulationArguments: what one simulation runs, checked before any text is embedded."""
import pytest

from core.sim import simulate


def test_defaults_are_the_clis():
    args = simulate.SimulationArguments()
    assert (args.strategy, args.init, args.batch, args.rounds, args.classifier) == ("auto", 30, 10, 10, "head")
    assert args.family_args is None and not args.warm_start and args.head_args.kind == "logistic_regression"


def test_a_family_gets_its_default_arguments_with_the_seed():
    args = simulate.SimulationArguments(classifier="setfit", seed=7)
    assert args.family_args.seed == 7 and args.config()["classifier"] == "setfit"


@pytest.mark.parametrize("wrong, message", [({"classifier": "svm"}, "Unknown classifier"),
                                            ({"init_strategy": "best"}, "Unknown initial strategy"),
                                            ({"strategy": "psychic"}, "Unknown strategy")])
def test_unknown_choices_are_refused_at_once(wrong, message):
    with pytest.raises(ValueError, match=message):
        simulate.SimulationArguments(**wrong)
