"""The `label` step's shards, on either backend: a language's texts are labelled in shards of
shard_size texts, written atomically beside a manifest of what they label (language, teacher, texts,
shard size, precision), so that a rerun labels only the missing shards and starts over when the
manifest changed; then the shards are assembled into the soft and hard DocBins."""
import hashlib
import json
import math
import shutil
from collections import Counter
from pathlib import Path
from typing import Callable, Iterable, List, Sequence, Tuple

from spacy.tokens import Doc, DocBin
from spacy.vocab import Vocab
from wasabi import msg

from .errors import DataError
from .files import atomic_path, write_json
from .label_texts import DEV, SOURCES, TRANSFER
from .reviews import make_nlp
from .tasks import top_label
from .teacher_inference import Labels

MANIFEST = "manifest.json"
MANIFEST_VERSION = 1
# What a manifest's keys stand for (the others follow from these).
CHANGES = {"version": "manifest version", "lang": "language", "teacher": "teacher",
           "texts": "texts to label", "shard_size": "shard size", "precision": "precision"}


def shard_name(k: int) -> str:
    return f"shard-{k:05d}.spacy"


SHARD_GLOB = "shard-*.spacy"


def shard_items(items: Sequence[dict], shard_size: int, k: int) -> Sequence[dict]:
    return items[k * shard_size:(k + 1) * shard_size]


def make_manifest(lang: str, items: Sequence[dict], shard_size: int, teacher: str, precision: str) -> dict:
    digest = hashlib.md5()
    for item in items:
        digest.update(json.dumps(item, sort_keys=True, ensure_ascii=False).encode("utf8") + b"\n")
    return {
        "version": MANIFEST_VERSION,
        "lang": lang,
        "teacher": teacher,
        "texts": digest.hexdigest(),
        "n_texts": len(items),
        "sources": dict(Counter(item["source"] for item in items)),
        "shard_size": shard_size,
        "n_shards": math.ceil(len(items) / shard_size),
        "precision": precision,
    }


def start_shards(lang_dir: Path, manifest: dict, outputs: Iterable[Path]) -> List[int]:
    """Write the manifest unless the shards in `lang_dir` are of this one; return the finished
    shards. Shards of another manifest are removed, with the language's assembled outputs."""
    path = lang_dir / MANIFEST
    if path.is_file():
        try:
            old = json.loads(path.read_text(encoding="utf8"))
        except json.JSONDecodeError:
            old = {}
        if old == manifest:
            return [k for k in range(manifest["n_shards"]) if (lang_dir / shard_name(k)).is_file()]
        if any(lang_dir.glob(SHARD_GLOB)):
            changed = [what for key, what in CHANGES.items() if old.get(key) != manifest[key]]
            msg.warn(f"{manifest['lang']}: the {', '.join(changed)} changed since the shards in {lang_dir} were "
                     "labelled: labelling this language from the start")
    elif lang_dir.is_dir() and any(lang_dir.iterdir()):
        msg.warn(f"{manifest['lang']}: {lang_dir} has no {MANIFEST}: labelling this language from the start")
    if lang_dir.is_dir():
        shutil.rmtree(lang_dir)
    for output in outputs:
        if output.is_file():
            output.unlink()
    write_json(path, manifest)
    return []


def output_paths(lang: str, soft_dir: Path, hard_dir: Path) -> Tuple[Path, Path]:
    return soft_dir / lang / "train.spacy", hard_dir / lang / "train.spacy"


def dev_path(train_path: Path) -> Path:
    """Where the teacher-labelled dev set of an unlabeled language goes, beside its training texts."""
    return train_path.with_name("dev.spacy")


def plan_language(
    lang: str, teacher_id: str, items: Sequence[dict], *, shard_dir: Path, soft_dir: Path, hard_dir: Path,
    shard_size: int, precision: str,
) -> Tuple[dict, List[int], dict]:
    """The language's manifest, the shards still to label (start_shards keeps those of an earlier run
    with this manifest) and the start of its report."""
    manifest = make_manifest(lang, items, shard_size, teacher_id, precision)
    outputs = output_paths(lang, soft_dir, hard_dir)
    finished = set(start_shards(shard_dir / lang, manifest, (*outputs, *map(dev_path, outputs))))
    todo = [k for k in range(manifest["n_shards"]) if k not in finished]
    if finished:
        msg.info(f"{lang}: {len(finished)} of {manifest['n_shards']} shards already labelled in {shard_dir / lang}")
    n_todo = sum(len(shard_items(items, shard_size, k)) for k in todo)
    return manifest, todo, {"precision": precision, "n_texts": len(items), "n_labelled": n_todo}


def shard_docbin(make_doc: Callable[[str], Doc], items: Sequence[dict], labels: Sequence[Labels]) -> DocBin:
    """The shard's docs: each text as `make_doc` splits it, with the teacher's labels and its provenance."""
    docbin = DocBin(store_user_data=True)
    for item, (cats, logits) in zip(items, labels):
        doc = make_doc(item["text"])
        doc.cats = cats
        doc.user_data.update({key: value for key, value in item.items() if key != "text"})
        doc.user_data["teacher_logits"] = logits
        docbin.add(doc)
    return docbin


def write_shard(lang_dir: Path, k: int, docbin: DocBin) -> None:
    with atomic_path(lang_dir / shard_name(k)) as tmp:
        docbin.to_disk(tmp)


def hard_doc(doc: Doc, labels: Sequence[str]) -> Doc:
    """A copy of a labelled doc with the teacher's argmax as one-hot cats over `labels` (a tie to the
    first) and no gold label."""
    hard = doc.copy()
    best = top_label(doc.cats, labels)
    hard.cats = {label: float(label == best) for label in labels}
    hard.user_data.pop("gold_label", None)
    return hard


def assemble(lang_dir: Path, items: Sequence[dict], n_shards: int, vocab: Vocab, soft_path: Path, hard_path: Path,
             labels: Sequence[str]) -> None:
    """Concatenate the shards into the soft and hard DocBins, checking that they hold `items`; the
    docs of source DEV go, as hard docs, to the dev set beside both."""
    soft, hard, dev = DocBin(store_user_data=True), DocBin(store_user_data=True), DocBin(store_user_data=True)
    found = []
    for k in range(n_shards):
        for doc in DocBin().from_disk(lang_dir / shard_name(k)).get_docs(vocab):
            if doc.user_data.get("source") == DEV:
                dev.add(hard_doc(doc, labels))
            else:
                soft.add(doc)
                hard.add(hard_doc(doc, labels))
            found.append((doc.user_data.get("id"), doc.text))
    if found != [(item["id"], item["text"]) for item in items]:
        raise DataError(f"The shards in {lang_dir} do not hold the texts of its {MANIFEST}: delete {lang_dir} "
                        "and label again")
    outputs = [(soft, soft_path), (hard, hard_path)]
    outputs += [(dev, dev_path(path)) for path in (soft_path, hard_path)]
    for docbin, path in outputs:
        if len(docbin):
            with atomic_path(path) as tmp:
                docbin.to_disk(tmp)
        elif path.is_file():  # the dev set of an earlier run in which the language was unlabeled
            path.unlink()


def finish_language(lang: str, items: Sequence[dict], manifest: dict, labels: Sequence[str], *, shard_dir: Path,
                    soft_dir: Path, hard_dir: Path) -> None:
    """Assemble the language's soft and hard DocBins (over `labels`) from its shards."""
    nlp = make_nlp(lang)
    soft_path, hard_path = output_paths(lang, soft_dir, hard_dir)
    assemble(shard_dir / lang, items, manifest["n_shards"], nlp.vocab, soft_path, hard_path, labels)
    counts = ", ".join(f"{source} {manifest['sources'].get(source, 0)}" for source in SOURCES
                       if source != TRANSFER or source in manifest["sources"])
    if DEV in manifest["sources"]:
        counts += f"; {manifest['sources'][DEV]} held out for the teacher-labelled dev set, {dev_path(soft_path)}"
    msg.good(f"{lang}: {len(items)} texts ({counts}) -> {soft_path}, {hard_path}")
