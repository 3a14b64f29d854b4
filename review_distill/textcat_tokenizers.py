"""The students' tokenizers: CharTokenizer, one token per CJK character and per run of other
letters and digits, and EncodableTokenizer, which spares spaCy's tokenizers the lone surrogates
that UTF-8 cannot encode. Both registered for a pipeline's [nlp.tokenizer]; shipped in each
packaged pipeline with the component (textcat_distill)."""
import re
from typing import Callable, Iterable, List

from spacy.language import Language
from spacy.tokens import Doc
from spacy.util import DummyTokenizer, registry
from spacy.vocab import Vocab

# The CJK characters that both the students' and the teacher's tokenizers (teacher_functions.py) make
# tokens of their own: CJK punctuation (not the ideographic space), kana and CJK ideographs.
CJK_BLOCKS = "\u3001-\u303f\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
# The students' CJK characters: those, and katakana extensions, halfwidth katakana and the ideographs
# beyond the Basic Multilingual Plane.
CJK_CHARS = CJK_BLOCKS + "\u31f0-\u31ff\uff66-\uff9f\U00020000-\U0003134f"
# A CJK character; a run of other letters and digits (a Latin word, a number); any other
# character but whitespace (punctuation, a symbol, an emoji).
CHAR_TOKEN = re.compile(rf"[{CJK_CHARS}]|[^\W_{CJK_CHARS}]+|\S")


class CharTokenizer(DummyTokenizer):
    """One token per CJK character, per run of other letters and digits, and per other
    non-space character; whitespace as spaCy's tokenizer keeps it (a single space after a
    token is its trailing whitespace, other whitespace a token of its own). It aligns the
    tokens as spaCy's get_words_and_spaces does, from the regex's own offsets, in one pass:
    that function searches each word in a copy of the rest of the text."""

    def __init__(self, vocab: Vocab) -> None:
        self.vocab = vocab

    def __call__(self, text: str) -> Doc:
        words: List[str] = []
        spaces: List[bool] = []
        end = 0
        for match in CHAR_TOKEN.finditer(text):
            _add_whitespace(text[end : match.start()], words, spaces)
            words.append(match.group())
            spaces.append(False)
            end = match.end()
        _add_whitespace(text[end:], words, spaces)
        return Doc(self.vocab, words=words, spaces=spaces)


def _add_whitespace(gap: str, words: List[str], spaces: List[bool]) -> None:
    """Attach the whitespace between two tokens: its first space to the token before, the
    rest as a token."""
    if gap and words and gap[0] == " ":
        spaces[-1] = True
        gap = gap[1:]
    if gap:
        words.append(gap)
        spaces.append(False)


@registry.tokenizers("review_distill.char_tokenizer.v1")
def create_char_tokenizer() -> Callable[[Language], CharTokenizer]:
    """The character tokenizer (CharTokenizer) for a pipeline's [nlp.tokenizer]."""

    def make_tokenizer(nlp: Language) -> CharTokenizer:
        return CharTokenizer(nlp.vocab)

    return make_tokenizer


# What UTF-8 cannot encode, and so spaCy cannot store: a surrogate code point on its own (half of
# an emoji cut from JSON, "\ud83d").
LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def encodable(text: str) -> str:
    """RETURNS (str): text with each lone surrogate replaced by U+FFFD: as long as text, so
    character offsets into it hold."""
    if text.isascii():
        return text
    try:
        text.encode("utf8")
    except UnicodeEncodeError:
        return LONE_SURROGATE.sub("\ufffd", text)
    return text


class EncodableTokenizer:
    """A tokenizer that gives its wrapped tokenizer the text with lone surrogates replaced
    (`encodable`), where spaCy's tokenizers raise UnicodeEncodeError. Everything else (vocab,
    serialization) is the wrapped tokenizer's."""

    def __init__(self, tokenizer: Callable[[str], Doc]) -> None:
        self.tokenizer = tokenizer

    def __call__(self, text: str) -> Doc:
        try:
            return self.tokenizer(text)  # costs nothing on the texts that need nothing
        except UnicodeEncodeError:
            return self.tokenizer(encodable(text))

    def pipe(self, texts: Iterable[str], batch_size: int = 1000) -> Iterable[Doc]:
        for text in texts:
            yield self(text)

    def __getattr__(self, name: str):
        if name == "tokenizer":  # not set yet, e.g. while unpickling
            raise AttributeError(name)
        return getattr(self.tokenizer, name)


@registry.tokenizers("review_distill.encodable_tokenizer.v1")
def create_encodable_tokenizer(
    tokenizer: Callable[[Language], Callable[[str], Doc]]
) -> Callable[[Language], EncodableTokenizer]:
    """The tokenizer `tokenizer` (e.g. {"@tokenizers": "spacy.Tokenizer.v1"}) wrapped in an
    EncodableTokenizer, for a pipeline's [nlp.tokenizer]."""

    def make_tokenizer(nlp: Language) -> EncodableTokenizer:
        return EncodableTokenizer(tokenizer(nlp))

    return make_tokenizer
