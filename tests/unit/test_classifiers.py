"""One spec per model family: its words, loader, and the Settings fields that build its arguments."""
import dataclasses

import pytest

from core.learning import classifiers

FAMILIES = list(classifiers.SPECS)


def test_the_families_are_the_specs():
    assert classifiers.FAMILIES == tuple(classifiers.SPECS) and classifiers.CLASSIFIERS == ("head", *FAMILIES)
    with pytest.raises(ValueError, match="choose from setfit"):
        classifiers.spec("nope")
    assert classifiers.title("an old family") == "an old family"


@pytest.mark.parametrize("family", FAMILIES)
def test_every_family_has_a_spec_with_its_words_and_loaders(family):
    spec = classifiers.spec(family)
    assert spec.name == family and spec.title.strip() and spec.description.strip()
    assert "folder" in spec.loads_with and classifiers.loader(family) == spec.loads_with
    assert callable(spec.train) and callable(spec.load)
    assert issubclass(spec.arguments, classifiers.FamilyArguments)
    assert classifiers.encoder_family(family) in ("transformer", classifiers.SENTENCE_ENCODER)
    assert spec.estimate_seconds is None or spec.slow_on_cpu
    others = [s for s in classifiers.SPECS.values() if s.name != family]
    assert spec.title not in {s.title for s in others}


@pytest.mark.parametrize("family", FAMILIES)
def test_every_field_sets_an_argument_of_its_family(family):
    spec = classifiers.spec(family)
    names = {f.name for f in dataclasses.fields(spec.arguments)}
    keys = [classifiers.field_key(f) for f in spec.fields]
    assert spec.fields and len(keys) == len(set(keys))
    for field in spec.fields:
        assert field.argument in names and field.label.strip()
        assert field.kind in (classifiers.INT, classifiers.FLOAT, classifiers.TOGGLE)
        if field.kind != classifiers.TOGGLE:
            low, high = field.bounds
            assert low < high and isinstance(low, int if field.kind == classifiers.INT else float)
        if field.enabled_by:
            assert field.enabled_by in keys and keys.index(field.enabled_by) < keys.index(classifiers.field_key(field))


def _another(field: classifiers.SettingField, value):
    """A valid input value other than `value`."""
    if field.kind == classifiers.TOGGLE:
        return not value
    low, high = field.bounds
    if field.off is not None and value >= field.off:
        return type(value)((low + high) / 2)
    return low if value != low else high


@pytest.mark.parametrize("family", FAMILIES)
def test_the_defaults_change_nothing_and_each_field_builds_its_arguments(family):
    spec = classifiers.spec(family)
    defaults = spec.arguments()
    shown = {classifiers.field_key(f): f.widget_value(defaults.to_dict()) for f in spec.fields}
    assert spec.changed_arguments(shown, defaults) == {}  # only what a user changes is stored
    for field in spec.fields:
        key = classifiers.field_key(field)
        value = _another(field, shown[key])
        changed = spec.changed_arguments({**shown, key: value}, defaults)
        assert list(changed) == [field.argument]
        built = classifiers.arguments(family, {**defaults.to_dict(), **changed})  # as stored settings are read
        assert type(built) is spec.arguments
        assert field.widget_value(built.to_dict()) == value  # the page shows what was saved


def test_a_tuple_argument_changes_only_its_element():
    spec = classifiers.spec("setfit-diff")
    defaults = spec.arguments()
    head_epochs = next(f for f in spec.fields if f.argument == "num_epochs")
    assert spec.changed_arguments({"num_epochs[1]": 3}, defaults) == {"num_epochs": (defaults.num_epochs[0], 3)}
    assert spec.changed_arguments({"num_epochs[1]": defaults.num_epochs[1]}, defaults) == {}
    assert head_epochs.widget_value(defaults.to_dict()) == defaults.num_epochs[1]


def test_an_off_value_stands_for_none():
    spec = classifiers.spec("transformer")
    defaults = spec.arguments()
    decay = next(f for f in spec.fields if f.argument == "layerwise_gradient_decay")
    assert defaults.layerwise_gradient_decay is None and decay.widget_value(defaults.to_dict()) == 1.0
    assert spec.changed_arguments({"layerwise_gradient_decay": 0.9}, defaults) == {"layerwise_gradient_decay": 0.9}
    assert spec.changed_arguments({"layerwise_gradient_decay": 1.0}, defaults) == {}
    with pytest.raises(ValueError, match="exclude each other"):
        classifiers.arguments("transformer", spec.changed_arguments(
            {"freeze_encoder": True, "gradual_unfreezing": True}, defaults))
