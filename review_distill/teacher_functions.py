"""Registered functions for the teacher's config (configs/teacher.cfg).

Pass this file with `--code` wherever the teacher is trained or loaded. Of the project, it imports
the CJK characters it shares with the students' tokenizer (textcat_tokenizers).
"""
from typing import Callable, Iterable, List

from spacy.language import Language
from spacy.tokenizer import Tokenizer
from spacy.tokens import Doc, Span
from spacy.util import compile_infix_regex
from spacy_transformers.util import registry  # spaCy's registry, plus span_getters

from review_distill.tasks import SETTING_CHOICES
from review_distill.textcat_tokenizers import CJK_BLOCKS

# The students' CJK blocks, the ideographic space and the fullwidth forms (punctuation, digits, letters):
# each one is a token of its own.
CJK_CHAR = f"[\u3000{CJK_BLOCKS}\uff01-\uff65]"


@registry.tokenizers("review_distill.cjk_chars_tokenizer.v1")
def create_cjk_chars_tokenizer() -> Callable[[Language], Tokenizer]:
    """The language's rule-based tokenizer, with every CJK character split off as a token.

    The multi-language ("xx") tokenizer splits on spaces and Western punctuation only, so a
    Chinese review, or a Japanese sentence, comes out as one token; with one token per
    character, the span getter below can cut any review into windows the transformer takes whole.
    """

    def make_tokenizer(nlp: Language) -> Tokenizer:
        tokenizer = registry.tokenizers.get("spacy.Tokenizer.v1")()(nlp)
        infixes = list(nlp.Defaults.infixes or []) + [CJK_CHAR]
        tokenizer.infix_finditer = compile_infix_regex(infixes).finditer
        return tokenizer

    return make_tokenizer


def char_windows(doc: Doc, max_chars: int) -> List[Span]:
    """The whole doc if its text has at most `max_chars` characters, else windows of whole
    tokens of at most `max_chars` characters, each starting half a window after the last.

    A sentencepiece covers at least one character (the space sentencepiece prepends aside),
    so a window of 500 characters stays within a 512-position transformer after <s> and </s>,
    with room for NFKC expansions, whatever the language. Only a single token longer than the
    window (a URL, say) can still be cut by the transformer.
    """
    if len(doc.text) <= max_chars or len(doc) <= 1:
        return [doc[:]]
    windows = []
    start = 0
    while True:
        end = start + 1
        while end < len(doc) and doc[end].idx + len(doc[end]) - doc[start].idx <= max_chars:
            end += 1
        windows.append(doc[start:end])
        if end == len(doc):
            return windows
        next_start = start + 1
        while next_start < end and doc[next_start].idx < doc[start].idx + max_chars // 2:
            next_start += 1
        start = next_start


@registry.span_getters("review_distill.char_windows.v1")
def configure_char_windows(max_chars: int) -> Callable[[Iterable[Doc]], List[List[Span]]]:
    """Span getter: each review whole when it fits, else half-overlapping windows (see char_windows)."""
    if max_chars < 1:
        raise ValueError(f"max_chars must be positive, got {max_chars}")

    def get_spans(docs: Iterable[Doc]) -> List[List[Span]]:
        return [char_windows(doc, max_chars) for doc in docs]

    return get_spans


@registry.misc("review_distill.text_length.v1")
def configure_text_length() -> Callable[[Doc], int]:
    """A doc's length in characters, for batching by padded size: spaCy tokens would make a
    Japanese review of five clause-long tokens look short."""
    return lambda doc: len(doc.text)


@registry.callbacks("review_distill.freeze_encoder.v1")
def create_freeze_encoder(component: str, frozen_fraction: float,
                          embeddings: str = "all") -> Callable[[Language], Language]:
    """An [initialize.after_init] callback that freezes the transformer's embeddings and the lower
    `frozen_fraction` of its layers (rounded down): a step then runs the backward pass and the
    optimizer over the upper layers only, and keeps no activations of the lower ones for it. A small
    gold set cannot retrain a large vocabulary anyway (docs/method.md, Fine-tuning). `embeddings`:
    "all" freezes the whole embeddings module (word, position and token-type embeddings and their
    LayerNorm), "words" the word-embedding table only."""
    if not 0 <= frozen_fraction <= 1:
        raise ValueError(f"frozen_fraction must be between 0 and 1, got {frozen_fraction}")
    choices = SETTING_CHOICES["teacher_frozen_embeddings"]
    if embeddings not in choices:
        raise ValueError(f"embeddings must be one of {', '.join(choices)}, got {embeddings!r}")

    def freeze(nlp: Language) -> Language:
        transformer = nlp.get_pipe(component).model.transformer.base_model
        if not hasattr(transformer, "embeddings") or not hasattr(getattr(transformer, "encoder", None), "layer"):
            raise ValueError(f"freeze_encoder.v1 finds the embeddings and layers of BERT-like encoders (BERT, "
                             f"XLM-R, e5), not those of {type(transformer).__name__}: remove [initialize.after_init] "
                             "from the teacher's config to fine-tune all of it")
        layers = transformer.encoder.layer
        frozen = transformer.embeddings if embeddings == "all" else transformer.get_input_embeddings()
        for module in (frozen, *layers[:int(len(layers) * frozen_fraction)]):
            module.requires_grad_(False)
        return nlp

    return freeze
