"""The `label` step: label each language's training texts with the teacher's probabilities.

Per language the texts are the gold train reviews, a seeded sample of the synthetic texts and of
the pool; each becomes a doc with the teacher's probabilities as `doc.cats` and its
log-probabilities in `user_data["teacher_logits"]`. The teacher labels them in resumable shards
(a rerun labels only the missing ones), in this process or on Ray actors (`labelling_ray`).
Writes SOFT_DIR/{lang}/train.spacy and, with argmax one-hot cats, HARD_DIR/{lang}/train.spacy.
The method: docs/method.md, "Soft labels"."""
import hashlib
import json
import math
import random
import shutil
import time
from collections import Counter
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Dict, Iterable, Iterator, List, Optional, Sequence, Tuple

import spacy
import typer
from spacy.cli._util import import_code, setup_gpu
from spacy.language import Language
from spacy.pipeline import MultiLabel_TextCategorizer, TextCategorizer
from spacy.tokens import Doc, DocBin
from spacy.vocab import Vocab
from thinc.shims import PyTorchShim
from tqdm import tqdm
from wasabi import msg

from .errors import DataError
from .files import atomic_path
from .reviews import LABELS, check_lang, check_unlabeled, make_nlp, read_jsonl

SOURCES = ("gold", "augmented", "pool")
# The source of an unlabeled language's held-out reviews, labelled for its student's dev set.
DEV = "dev"
MANIFEST = "manifest.json"
MANIFEST_VERSION = 1
# Floor for a probability that is logged: the smallest positive float32.
MIN_PROB = 1e-45

# What a manifest's keys stand for (the others follow from these).
CHANGES = {"version": "manifest version", "lang": "language", "teacher": "teacher",
           "texts": "texts to label", "shard_size": "shard size", "precision": "precision"}
PRECISIONS = ("auto", "fp32", "bf16")
BACKENDS = ("local", "ray")
# The bf16 teacher's labels of this many texts per language are checked against its fp32 labels.
AGREEMENT_SAMPLE = 500
MIN_AGREEMENT = 0.995

Labels = Tuple[Dict[str, float], Dict[str, float]]  # (cats, teacher_logits)


def shard_name(k: int) -> str:
    return f"shard-{k:05d}.spacy"


def check_sizes(pool_size: int, augmented_size: int, shard_size: int, batch_size: int) -> None:
    for name, value in (("pool_size", pool_size), ("augmented_size", augmented_size)):
        if value < -1:
            raise DataError(f"{name} must be -1 (all), 0 (none) or a positive number of texts, got {value}")
    for name, value in (("shard_size", shard_size), ("batch_size", batch_size)):
        if value < 1:
            raise DataError(f"{name} must be at least 1, got {value}")


def gold_items(path: Path, vocab: Vocab) -> List[dict]:
    """The gold training reviews, with their ids and labels, in the DocBin's order."""
    items = []
    for i, doc in enumerate(DocBin().from_disk(path).get_docs(vocab)):
        review_id = doc.user_data.get("id")
        if not review_id:
            raise DataError(f"{path}: review {i} has no id in user_data: rerun `spacy project run preprocess`")
        gold = [label for label in LABELS if doc.cats.get(label) == 1.0]
        if len(gold) != 1 or sum(doc.cats.get(label, 0.0) for label in LABELS) != 1.0:
            raise DataError(f"{path}: review {review_id} has no one-hot {'/'.join(LABELS)} cats: {doc.cats}")
        items.append({"id": review_id, "source": "gold", "gold_label": gold[0], "text": doc.text})
    if not items:
        raise DataError(f"{path}: no training reviews")
    return items


def read_texts(path: Path, fields: Sequence[str]) -> List[dict]:
    """JSONL records with an id, a non-empty text and `fields`."""
    rows = read_jsonl(path)
    for n, row in enumerate(rows, start=1):
        for field in ("id", "text", *fields):
            if field not in row:
                raise DataError(f"{path}: record {n} has no '{field}'")
        if not isinstance(row["text"], str) or not row["text"].strip():
            raise DataError(f"{path}: record {n} ({row['id']}) has an empty text")
    return rows


def sample(rows: Sequence[dict], size: int, key: str, what: str) -> List[dict]:
    """`size` rows (-1: all) in the order of a shuffle seeded by `key`; all, with a warning,
    if there are fewer."""
    order = list(range(len(rows)))
    random.Random(key).shuffle(order)
    if size > len(rows):
        msg.warn(f"{what}: asked for {size}, there are {len(rows)}: labelling all of them")
    return [rows[i] for i in (order if size == -1 else order[:size])]


def pool_items(path: Path, source: str) -> List[dict]:
    """The reviews of one of an unlabeled language's pool files, as items of `source`."""
    rows = read_texts(path, ())
    if not rows:
        raise DataError(f"{path}: no reviews: rerun `spacy project run preprocess`")
    return [{"id": row["id"], "source": source, "text": row["text"]} for row in rows]


def collect_items(
    lang: str, vocab: Vocab, corpus_dir: Path, augmented_dir: Path, pool_size: int, augmented_size: int, seed: int,
    unlabeled: bool = False,
) -> List[dict]:
    """The texts to label, in order: gold (of an unlabeled language: pool_train), augmented sample, pool
    sample, and for an unlabeled language its held-out dev reviews (each a dict of the text and the
    provenance that goes to user_data)."""
    if unlabeled:
        items = pool_items(corpus_dir / lang / "pool_train.jsonl", "pool")
    else:
        items = gold_items(corpus_dir / lang / "train.spacy", vocab)
    if augmented_size != 0:
        path = augmented_dir / f"{lang}.jsonl"
        rows = read_texts(path, ("source_id", "ops"))
        if not rows:
            raise DataError(f"{path}: no synthetic texts (set augmented_size to 0 to label none)")
        for row in sample(rows, augmented_size, f"{seed}:{lang}:augmented", f"{lang} augmented_size"):
            items.append({"id": row["id"], "source": "augmented", "source_id": row["source_id"],
                          "ops": list(row["ops"]), "text": row["text"]})
    if pool_size != 0:
        path = corpus_dir / lang / "pool.jsonl"
        rows = read_texts(path, ())
        if not rows:
            raise DataError(f"{path}: no pool reviews (set pool_size to 0 to label none)")
        for row in sample(rows, pool_size, f"{seed}:{lang}:pool", f"{lang} pool_size"):
            items.append({"id": row["id"], "source": "pool", "text": row["text"]})
    if unlabeled:
        items.extend(pool_items(corpus_dir / lang / "pool_dev.jsonl", DEV))
    return items


def check_teacher(path: Path) -> None:
    if not (path / "config.cfg").is_file():
        raise DataError(f"No teacher pipeline at {path}: run `spacy project run teacher-train` first")


def load_teacher(path: Path, code: Optional[Path]) -> Language:
    """The teacher pipeline; it must have an exclusive textcat over exactly POS and NEG."""
    check_teacher(path)
    if code is not None:
        import_code(code)
    nlp = spacy.load(path)
    textcats = [name for name, pipe in nlp.pipeline if isinstance(pipe, TextCategorizer)
                and not isinstance(pipe, MultiLabel_TextCategorizer) and set(pipe.labels) == set(LABELS)]
    if not textcats:
        raise DataError(f"{path}: the pipeline ({', '.join(nlp.pipe_names)}) has no exclusive textcat "
                        f"predicting {' and '.join(LABELS)}")
    return nlp


def teacher_identity(path: Path, code: Optional[Path]) -> str:
    """A hash of the teacher's files (names and contents) and of the code it is loaded with."""
    digest = hashlib.md5()
    for file in sorted(p for p in path.rglob("*") if p.is_file()):
        digest.update(file.relative_to(path).as_posix().encode("utf8") + b"\0")
        with file.open("rb") as file_:
            for chunk in iter(lambda: file_.read(1 << 20), b""):
                digest.update(chunk)
    if code is not None:
        digest.update(b"\0code\0" + code.read_bytes())
    return digest.hexdigest()


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


def torch_modules(nlp: Language) -> list:
    """The PyTorch modules inside a pipeline's components (a transformer's, for the teacher)."""
    return [shim._model for _, pipe in nlp.pipeline if hasattr(pipe, "model") for layer in pipe.model.walk()
            for shim in layer.shims if isinstance(shim, PyTorchShim)]


def bf16_supported(gpu: bool) -> bool:
    """Whether the device computes in bfloat16 natively: AVX-512 BF16 or AMX on a CPU."""
    import torch

    if gpu:
        return torch.cuda.is_available() and torch.cuda.is_bf16_supported()
    checks = [getattr(torch.cpu, name, None) for name in ("_is_avx512_bf16_supported", "_is_amx_tile_supported")]
    return any(check() for check in checks if check is not None)


def resolve_precision(precision: str, teacher: Language, gpu: bool) -> str:
    """`auto`: bf16 for a teacher with PyTorch modules on a device that computes in bf16, else fp32."""
    if precision not in PRECISIONS:
        raise DataError(f"precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")
    if precision == "auto":
        return "bf16" if torch_modules(teacher) and bf16_supported(gpu) else "fp32"
    if precision == "bf16" and not bf16_supported(gpu):
        raise DataError("precision bf16: this device has no native bfloat16 (a CPU needs AVX-512 BF16 or AMX); "
                        "use fp32 or auto")
    return precision


def _float32_outputs(module, inputs, output):
    """Forward hook: bfloat16 tensors in a module's output (a tensor, tuple or ModelOutput) as float32,
    which numpy, and so thinc, can take."""
    import torch

    def cast(value):
        return value.float() if torch.is_tensor(value) and value.dtype == torch.bfloat16 else value

    if isinstance(output, dict):
        for key in list(output.keys()):
            output[key] = cast(output[key])
        return output
    if isinstance(output, tuple):
        return tuple(cast(value) for value in output)
    return cast(output)


@contextmanager
def inference_precision(teacher: Language, precision: str, gpu: bool) -> Iterator[None]:
    """Run the teacher's PyTorch modules under bf16 autocast (`precision` bf16), with float32 outputs."""
    if precision == "fp32":
        yield
        return
    import torch

    handles = [module.register_forward_hook(_float32_outputs) for module in torch_modules(teacher)]
    try:
        with torch.autocast("cuda" if gpu else "cpu", dtype=torch.bfloat16):
            yield
    finally:
        for handle in handles:
            handle.remove()


def check_agreement(teacher: Language, items: Sequence[dict], precision: str, gpu: bool, batch_size: int) -> dict:
    """The argmax agreement and mean |difference| in p(POS) of the teacher at `precision` with the fp32
    teacher, on AGREEMENT_SAMPLE texts spread over `items`; below MIN_AGREEMENT is an error."""
    step = max(1, len(items) // AGREEMENT_SAMPLE)
    texts = [item["text"] for item in items[::step][:AGREEMENT_SAMPLE]]
    reference = [cats[LABELS[0]] for cats, _ in predict(teacher, texts, batch_size)]
    with inference_precision(teacher, precision, gpu):
        fast = [cats[LABELS[0]] for cats, _ in predict(teacher, texts, batch_size)]
    agreement = sum((a >= 0.5) == (b >= 0.5) for a, b in zip(reference, fast)) / len(texts)
    result = {"n": len(texts), "argmax_agreement": agreement,
              "mean_abs_diff_pos": sum(abs(a - b) for a, b in zip(reference, fast)) / len(texts)}
    if agreement < MIN_AGREEMENT:
        raise DataError(f"The {precision} teacher agrees with the fp32 teacher on {agreement:.1%} of {len(texts)} "
                        f"texts, below {MIN_AGREEMENT:.1%}: label with --precision fp32")
    return result


def soft_labels(cats: Dict[str, float]) -> Labels:
    """(probabilities, log-probabilities) from the teacher's textcat scores: POS renormalized in
    double precision, NEG = 1 - POS, so they sum to 1 exactly."""
    pos, neg = float(cats[LABELS[0]]), float(cats[LABELS[1]])
    if not (pos >= 0 and neg >= 0 and 0 < pos + neg < math.inf):
        raise ValueError(f"the teacher's textcat gave {cats}, not probabilities")
    p = pos / (pos + neg)
    return {LABELS[0]: p, LABELS[1]: 1.0 - p}, {LABELS[0]: math.log(max(pos, MIN_PROB)),
                                                 LABELS[1]: math.log(max(neg, MIN_PROB))}


def predict(teacher: Language, texts: Sequence[str], batch_size: int, progress: Optional[tqdm] = None) -> List[Labels]:
    """The teacher's labels of each text, in order; the texts go through it shortest first, so
    that each batch holds texts of similar length."""
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
    labels: List[Optional[Labels]] = [None] * len(texts)
    for i, doc in zip(order, teacher.pipe((texts[i] for i in order), batch_size=batch_size)):
        labels[i] = soft_labels(doc.cats)
        if progress is not None:
            progress.update(1)
    return labels


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


def label_shard(
    teacher: Language, make_doc: Callable[[str], Doc], items: Sequence[dict], batch_size: int,
    progress: Optional[tqdm] = None,
) -> DocBin:
    return shard_docbin(make_doc, items, predict(teacher, [item["text"] for item in items], batch_size, progress))


def write_shard(lang_dir: Path, k: int, docbin: DocBin) -> None:
    with atomic_path(lang_dir / shard_name(k)) as tmp:
        docbin.to_disk(tmp)


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
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf8")
    return []


def hard_doc(doc: Doc) -> Doc:
    """A copy of a labelled doc with the teacher's argmax as one-hot cats and no gold label."""
    hard = doc.copy()
    best = max(LABELS, key=lambda label: doc.cats[label])
    hard.cats = {label: float(label == best) for label in LABELS}
    hard.user_data.pop("gold_label", None)
    return hard


def dev_path(train_path: Path) -> Path:
    """Where the teacher-labelled dev set of an unlabeled language goes, beside its training texts."""
    return train_path.with_name("dev.spacy")


def assemble(lang_dir: Path, items: Sequence[dict], n_shards: int, vocab: Vocab, soft_path: Path, hard_path: Path) -> None:
    """Concatenate the shards into the soft and hard DocBins, checking that they hold `items`; the
    docs of source DEV go, as hard docs, to the dev set beside both."""
    soft, hard, dev = DocBin(store_user_data=True), DocBin(store_user_data=True), DocBin(store_user_data=True)
    found = []
    for k in range(n_shards):
        for doc in DocBin().from_disk(lang_dir / shard_name(k)).get_docs(vocab):
            if doc.user_data.get("source") == DEV:
                dev.add(hard_doc(doc))
            else:
                soft.add(doc)
                hard.add(hard_doc(doc))
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


def output_paths(lang: str, soft_dir: Path, hard_dir: Path) -> Tuple[Path, Path]:
    return soft_dir / lang / "train.spacy", hard_dir / lang / "train.spacy"


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


def shard_items(items: Sequence[dict], shard_size: int, k: int) -> Sequence[dict]:
    return items[k * shard_size:(k + 1) * shard_size]


def agreement_info(lang: str, precision: str, check: dict) -> None:
    msg.info(f"{lang}: the {precision} teacher agrees with the fp32 teacher on {check['argmax_agreement']:.1%} of "
             f"{check['n']} texts (mean |difference| in p(POS) {check['mean_abs_diff_pos']:.2g})")


def finish_language(lang: str, items: Sequence[dict], manifest: dict, *, shard_dir: Path, soft_dir: Path,
                    hard_dir: Path) -> None:
    """Assemble the language's soft and hard DocBins from its shards."""
    nlp = make_nlp(lang)
    soft_path, hard_path = output_paths(lang, soft_dir, hard_dir)
    assemble(shard_dir / lang, items, manifest["n_shards"], nlp.vocab, soft_path, hard_path)
    counts = ", ".join(f"{source} {manifest['sources'].get(source, 0)}" for source in SOURCES)
    if DEV in manifest["sources"]:
        counts += f"; {manifest['sources'][DEV]} held out for the teacher-labelled dev set, {dev_path(soft_path)}"
    msg.good(f"{lang}: {len(items)} texts ({counts}) -> {soft_path}, {hard_path}")


def label_language(
    lang: str, teacher: Language, teacher_id: str, items: Sequence[dict], *, shard_dir: Path, soft_dir: Path,
    hard_dir: Path, shard_size: int, batch_size: int, precision: str = "fp32", gpu: bool = False,
) -> dict:
    """Label the missing shards of a language, then assemble its soft and hard DocBins; return what
    was labelled, how fast, and (bf16) the agreement with the fp32 teacher."""
    dirs = {"shard_dir": shard_dir, "soft_dir": soft_dir, "hard_dir": hard_dir}
    manifest, todo, report = plan_language(lang, teacher_id, items, shard_size=shard_size, precision=precision, **dirs)
    n_todo = report["n_labelled"]
    if n_todo and precision != "fp32":
        report["fp32_check"] = check_agreement(teacher, items, precision, gpu, batch_size)
        agreement_info(lang, precision, report["fp32_check"])
    make_doc = make_nlp(lang).make_doc
    start = time.perf_counter()
    with tqdm(total=len(items), initial=len(items) - n_todo, desc=f"{lang} label", unit="doc",
              leave=False, disable=None) as progress, inference_precision(teacher, precision, gpu):
        for k in todo:
            write_shard(shard_dir / lang, k, label_shard(teacher, make_doc, shard_items(items, shard_size, k),
                                                         batch_size, progress))
    seconds = time.perf_counter() - start
    if n_todo:
        report.update(seconds=seconds, texts_per_s=n_todo / seconds)
        msg.info(f"{lang}: labelled {n_todo} texts in {seconds:.0f}s ({n_todo / seconds:.1f} docs/s, {precision})")
    finish_language(lang, items, manifest, **dirs)
    return report


def write_report(path: Optional[Path], reports: dict) -> None:
    if path is not None:
        with atomic_path(path) as tmp:
            tmp.write_text(json.dumps(reports, indent=2) + "\n", encoding="utf8")


def main(
    teacher_dir: Path = typer.Argument(..., help="The teacher pipeline (teacher-train's model-best)"),
    languages: List[str] = typer.Argument(..., help="Language codes"),
    code: Optional[Path] = typer.Option(None, exists=True, dir_okay=False, help="The teacher config's registered functions"),
    corpus_dir: Path = typer.Option(Path("corpus/splits"), help="{lang}/train.spacy and pool.jsonl from the preprocess step"),
    augmented_dir: Path = typer.Option(Path("corpus/augmented"), help="{lang}.jsonl from augment.py"),
    shard_dir: Path = typer.Option(Path("corpus/labels"), help="Where the shards and their manifest go, per language"),
    soft_dir: Path = typer.Option(Path("corpus/soft"), help="Where {lang}/train.spacy with the probabilities goes"),
    hard_dir: Path = typer.Option(Path("corpus/hard"), help="Where {lang}/train.spacy with the argmax labels goes"),
    pool_size: int = typer.Option(4000, help="Pool reviews to label per language (-1: all)"),
    augmented_size: int = typer.Option(4000, help="Synthetic texts to label per language (0: none, -1: all)"),
    shard_size: int = typer.Option(1000, help="Texts per shard"),
    batch_size: int = typer.Option(64, help="Texts per batch through the teacher"),
    seed: int = typer.Option(0, help="Seed of the samples"),
    gpu_id: int = typer.Option(-1, help="GPU id, -1 for CPU"),
    precision: str = typer.Option("fp32", help="fp32, bf16 (autocast, checked against fp32) or auto (bf16 where "
                                  "the device computes in it natively)"),
    report_path: Optional[Path] = typer.Option(None, "--report", help="JSON file for the texts/s and bf16 agreement"),
    unlabeled: str = typer.Option("", help="Space-separated languages without gold train sets (see the module doc)"),
    backend: str = typer.Option("local", help="local (this process) or ray (a pool of actors on a Ray cluster)"),
    ray_address: str = typer.Option("", help="Ray backend: empty to start Ray on this machine with all its cores, "
                                    "or a cluster's address (auto, ray://host:port)"),
    ray_actors: int = typer.Option(0, help="Ray backend: actors, each with the teacher loaded (0: as many as the "
                                   "cluster's CPUs and GPUs hold)"),
    ray_cpus: float = typer.Option(1.0, help="Ray backend: CPUs per actor"),
    ray_gpus: float = typer.Option(0.0, help="Ray backend: GPUs per actor (Ray assigns them; --gpu-id is the "
                                   "local backend's)"),
):
    unlabeled = unlabeled.split()
    try:
        check_sizes(pool_size, augmented_size, shard_size, batch_size)
        check_unlabeled(languages, unlabeled)
        if backend not in BACKENDS:
            raise DataError(f"backend must be one of {', '.join(BACKENDS)}, got {backend!r}")
        if backend == "ray":
            from . import labelling_ray as label_ray  # Ray is an optional dependency: only this backend imports it

            ray_options = label_ray.RayOptions(ray_address, ray_actors, ray_cpus, ray_gpus)
            label_ray.check_options(ray_options, gpu_id)
        for lang in languages:
            check_lang(lang)
            first = ("pool_train.jsonl", "pool_dev.jsonl") if lang in unlabeled else ("train.spacy",)
            for path, step, needed in (*((corpus_dir / lang / name, "preprocess", True) for name in first),
                                       (corpus_dir / lang / "pool.jsonl", "preprocess", pool_size != 0),
                                       (augmented_dir / f"{lang}.jsonl", "augment", augmented_size != 0)):
                if needed and not path.is_file():
                    raise DataError(f"Missing file {path}: run `spacy project run {step}` first")
        check_teacher(teacher_dir)
        vocab = Vocab()
        items = {lang: collect_items(lang, vocab, corpus_dir, augmented_dir, pool_size, augmented_size, seed,
                                     lang in unlabeled) for lang in languages}
        if backend == "ray":
            reports = label_ray.label_languages(
                teacher_dir, code, items, ray_options, shard_dir=shard_dir, soft_dir=soft_dir, hard_dir=hard_dir,
                shard_size=shard_size, batch_size=batch_size, precision=precision)
            write_report(report_path, reports)
            return
        setup_gpu(gpu_id)
        teacher = load_teacher(teacher_dir, code)
        teacher_id = teacher_identity(teacher_dir, code)
        precision = resolve_precision(precision, teacher, gpu_id >= 0)
        msg.info(f"Teacher precision: {precision}")
        reports = {}
        for lang in languages:
            reports[lang] = label_language(lang, teacher, teacher_id, items[lang], shard_dir=shard_dir,
                                           soft_dir=soft_dir, hard_dir=hard_dir, shard_size=shard_size,
                                           batch_size=batch_size, precision=precision, gpu=gpu_id >= 0)
        write_report(report_path, reports)
    except DataError as err:
        msg.fail(str(err), exits=1)
