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


# -- Keras 3 function records ----------------------------------------------------------------
def test_function_record_resolves_by_registered_then_plain_name():
    reg = registry.Registry("activation")

    def twice(x):
        return 2 * x

    reg.register(twice)
    record = {"module": "builtins", "class_name": "function", "config": "twice",
              "registered_name": "twice"}  # fmt: skip
    assert reg.get(record) is twice
    assert reg.get({**record, "registered_name": "pkg>unknown"}) is twice  # falls back
    with pytest.raises(ValueError, match=r"must name the function in 'config'"):
        reg.get({"class_name": "function", "config": None})


def test_function_record_never_imports_its_module():
    reg = registry.Registry("activation")
    record = {"class_name": "function", "config": "eval", "module": "builtins",
              "registered_name": "function"}  # fmt: skip
    with pytest.raises(ValueError, match=r"Unknown activation 'eval'"):
        reg.get(record)


def test_keras3_file_with_a_registered_custom_activation_loads(tmp_path):
    import numpy as np

    import fitorch

    keras = pytest.importorskip("keras")

    @keras.saving.register_keras_serializable(package="rel20")
    def triple(x):
        return 3.0 * x

    keras.utils.set_random_seed(0)
    km = keras.Sequential([keras.Input((3,)), keras.layers.Dense(4, activation=triple)])
    km.save(tmp_path / "k.keras")
    x = np.random.default_rng(0).random((5, 3), dtype=np.float32)
    expected = np.asarray(km.predict(x, verbose=0))
    with pytest.raises(
        ValueError, match=r"layer 'dense(_\d+)?'.*Unknown activation 'rel20>triple'"
    ):
        fitorch.saving.load_model(tmp_path / "k.keras")

    @fitorch.saving.register_keras_serializable(package="rel20")
    def triple(x):  # noqa: F811 - the fitorch side registers its own definition
        return 3.0 * x

    model = fitorch.saving.load_model(tmp_path / "k.keras")
    np.testing.assert_allclose(model.predict(x, verbose=0), expected, rtol=1e-6, atol=1e-6)
    passed = fitorch.saving.load_model(tmp_path / "k.keras", custom_objects={"triple": triple})
    np.testing.assert_allclose(passed.predict(x, verbose=0), expected, rtol=1e-6, atol=1e-6)


def test_packaged_function_name_finds_a_plain_custom_object_never_a_builtin():
    reg = registry.Registry("activation")

    def relu(x):
        return x

    def quadruple(x):
        return 4 * x

    reg.register(relu)
    with registry.custom_object_scope({"quadruple": quadruple}):
        assert reg.get({"class_name": "function", "config": "pkg>quadruple"}) is quadruple
    with pytest.raises(ValueError, match=r"Unknown activation 'pkg>relu'"):
        reg.get({"class_name": "function", "config": "pkg>relu"})
