"""Texts no one planned for, through the component and through packaged pipelines: every doc gets
a probability distribution over the labels, the same whichever way it is run."""
import subprocess
import sys

import pytest
import spacy

from fuzz import assert_same_everywhere, fuzz_texts, one_megabyte_text
from util import ENCODABLE, MODELS, ROOT, randomize, soft_examples
from review_distill import textcat_distill  # noqa: F401  (registers the component, whichever test module runs first)


@pytest.mark.parametrize("model_name", ["bow_v3", "bow_dan_v2", "bow"])
def test_fuzz_the_component(model_name):
    nlp = spacy.blank("en", config={"nlp": {"tokenizer": ENCODABLE}})
    nlp.add_pipe("textcat_distill", name="textcat", config={"model": MODELS[model_name]})
    nlp.initialize(lambda: soft_examples(nlp))
    randomize(nlp.get_pipe("textcat").model)
    assert_same_everywhere(nlp, fuzz_texts(seed=1) + [one_megabyte_text(seed=1)])


# de on words, ja on characters: the students' two kinds of tokenizer (the toy zh student's jieba
# segmenter, which the workflow's students do not use, is a module spaCy cannot pickle).
@pytest.mark.parametrize("lang", ["de", "ja"])
def test_fuzz_a_packaged_pipeline(project, lang):
    """The package imported as an installed one is, in a process that has no other copy of its
    code (pickling finds its functions by their module)."""
    package = project[0] / "packages" / f"{lang}_review_sentiment-0.1.0"
    script = f"""
import sys
sys.path[:0] = [{str(package)!r}, {str(ROOT / "tests")!r}]
import {lang}_review_sentiment
from fuzz import assert_same_everywhere, fuzz_texts, one_megabyte_text
nlp = {lang}_review_sentiment.load()
assert_same_everywhere(nlp, fuzz_texts(seed=2) + [one_megabyte_text(seed=2)])
print("ok")
"""
    result = subprocess.run([sys.executable, "-I", "-c", script], capture_output=True, text=True)
    assert result.returncode == 0 and result.stdout.split()[-1:] == ["ok"], result.stderr[-3000:]


@pytest.mark.parametrize("tokenizer", [ENCODABLE["tokenizer"], {"@tokenizers": "review_distill.char_tokenizer.v1"}])
def test_lone_surrogates_become_replacement_characters_in_place(tokenizer):
    """Where spaCy's tokenizers raise UnicodeEncodeError, the wrapped one gets U+FFFD at the same
    offsets; other texts reach the tokenizer as they are."""
    bare = spacy.blank("ja", config={"nlp": {"tokenizer": tokenizer}})
    nlp = spacy.blank("ja", config={"nlp": {"tokenizer": {**ENCODABLE, "tokenizer": tokenizer}}})
    text = "良い \ud83d phone\udc00"
    with pytest.raises(UnicodeEncodeError):
        bare(text)
    assert nlp(text).text == "良い \ufffd phone\ufffd"
    assert [t.text for t in nlp("良い 👍🏽 phone")] == [t.text for t in bare("良い 👍🏽 phone")]
