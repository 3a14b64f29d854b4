"""spaCy's own textcat tests (spacy/tests/pipeline/test_textcat.py), run with textcat_distill in
place of the `textcat` factory, once with each of the losses "ce" (the default) and "mse" (spaCy's).
The tests whose failure is the point (docs/method.md, "Where it differs from spaCy's textcat")
are in DIFFERENT, marked as strict xfails: they must fail, and they would pass if the component
behaved as spaCy's textcat there."""
import pytest
from spacy.language import Language
from spacy.tests.pipeline import test_textcat as spacy_tests

from review_distill import textcat_distill  # noqa: F401  (registers the factory)

_add_pipe = Language.add_pipe

EMPTY_DOC = "an empty doc gets the model's prior, a distribution, not zeros"
UNKNOWN_LABEL = "cats of labels the component does not have are an error, not ignored"
OUTPUT_LAYER = (
    "the cross-entropy needs an exclusive softmax output layer; a model without one "
    "(exclusive_classes = false, no_output_layer = true) is refused, with loss 'mse' suggested"
)
DIFFERENT = {
    **{
        (name, loss): reason
        for loss in ("ce", "mse")
        for name, reason in (
            ("test_issue4030", EMPTY_DOC),
            ("test_issue6908[textcat]", UNKNOWN_LABEL),
            ("test_positive_class", UNKNOWN_LABEL),
        )
    },
    ("test_textcat_loss[False-0.125]", "ce"): "the loss is the cross-entropy, not spaCy's squared error",
    **{
        (name, "ce"): OUTPUT_LAYER
        for name in (
            "test_issue5551[textcat_config3]",
            "test_issue5551[textcat_config4]",
            "test_issue5551[textcat_config5]",
            "test_no_resize[textcat-textcat_config1]",
            "test_no_resize[textcat-textcat_config4]",
            "test_resize[textcat-textcat_config1]",
            "test_resize_same_results[textcat-textcat_config1]",
            "test_textcat_configs[textcat-train_data3-textcat_config3]",
            "test_textcat_configs[textcat-train_data9-textcat_config9]",
            "test_textcat_configs[textcat-train_data13-textcat_config13]",
        )
    },
}


@pytest.fixture(autouse=True, params=["ce", "mse"])
def distill_for_textcat(request, monkeypatch):
    """Every `textcat` a test adds, by nlp.add_pipe or from a config, is a textcat_distill with
    the loss of the parameter; the tests in DIFFERENT must fail."""
    loss = request.param

    def add_pipe(self, factory_name, name=None, **kwargs):
        if factory_name == "textcat":
            factory_name, name = "textcat_distill", name or "textcat"
            kwargs["config"] = {"loss": loss, **(kwargs.get("config") or {})}
        return _add_pipe(self, factory_name, name, **kwargs)

    monkeypatch.setattr(Language, "add_pipe", add_pipe)
    test_name = request.node.name.replace(f"[{loss}-", "[").replace(f"[{loss}]", "")
    if (test_name, loss) in DIFFERENT:
        request.node.add_marker(pytest.mark.xfail(reason=DIFFERENT[test_name, loss], strict=True))


@pytest.fixture(scope="session")
def en_vocab():
    from spacy.lang.en import English

    return English().vocab


for _name in dir(spacy_tests):
    if _name.startswith("test_"):
        globals()[_name] = getattr(spacy_tests, _name)
