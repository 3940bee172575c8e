"""Registry: aliases, did-you-mean, config records, custom objects."""

import pytest

from fitorch import registry


def test_aliases_resolve_to_the_same_object_and_errors_suggest():
    reg = registry.Registry("widget")

    def mean_thing():
        pass

    reg.register(mean_thing, "mt", "MT")
    assert reg.get("mt") is reg.get("MT") is reg.get("mean_thing") is mean_thing
    assert sorted(reg.aliases_of(mean_thing)) == ["MT", "mean_thing", "mt"]
    with pytest.raises(ValueError, match=r"Unknown widget 'mean_thng'\. Did you mean 'mean_thing'"):
        reg.get("mean_thng")


def test_case_insensitive_registry():
    reg = registry.Registry("optimizer", case_insensitive=True)
    reg.register(dict, name="Adam")
    assert reg.get("adam") is dict and reg.get("ADAM") is dict


def test_suggest_prefers_adjacent_swaps():
    assert registry.suggest("haed", ["shared", "head", "dense"])[0] == "head"
    assert registry.suggest("zzzz", ["head"]) == []


def test_dict_record_builds_with_from_config():
    class Thing:
        def __init__(self, a=1):
            self.a = a

        @classmethod
        def from_config(cls, config):
            return cls(**config)

    reg = registry.Registry("thing")
    reg.register(Thing)
    assert reg.get({"class_name": "Thing", "config": {"a": 5}}).a == 5
    with pytest.raises(ValueError, match="'class_name'"):
        reg.get({"config": {}})


def test_register_serializable_and_scopes():
    @registry.register_serializable(package="pkg")
    def registry_test_loss(y_true, y_pred):
        return y_pred

    assert registry.get_registered_name(registry_test_loss) == "pkg>registry_test_loss"
    assert registry.get_registered_object("pkg>registry_test_loss") is registry_test_loss
    assert registry.get_registered_object("registry_test_loss") is registry_test_loss

    def registry_test_other():
        pass

    assert registry.get_registered_object("registry_test_other") is None
    with registry.custom_object_scope({"registry_test_other": registry_test_other}):
        assert registry.get_registered_object("registry_test_other") is registry_test_other
    assert registry.get_registered_object("registry_test_other") is None
