"""reports/examples.html: why the default student labelled test reviews as it did, beside the teacher.

Per language, test reviews the student got right, got wrong and disagrees with the teacher on,
each with its words coloured by what they add to the student's decision (textcat_explain.explain of
the student's label against the runner-up: green towards its label, red towards the runner-up) and
every label's probability (the teacher's as the teacher-train step kept them), and per label the
n-grams of the test reviews that weigh most towards it against the other labels
(textcat_explain.ngram_scores). The labels are the task's (splits_dir/task.json); a review's label
is its most probable one. One self-contained HTML file: inline CSS, no scripts, no links.
"""
import html
import json
import random
from pathlib import Path
from typing import Dict, List, Sequence, Tuple

import numpy
import spacy
from spacy.tokens import DocBin
from wasabi import msg

from .errors import DataError, MissingInput
from .files import atomic_path
from .predictions import read_predictions, test_predictions_dir
from .tasks import top_label
from .tasks import Task, read_task
from .textcat_explain import explain, ngram_scores

GROUPS = {
    "disagrees": "Disagrees with the teacher",
    "wrong": "Wrong (the gold label is {another})",
    "right": "Right, as the teacher",
}
# Reviews longer than this many characters are shown only where too few short ones are left.
SHORT = 400
CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", "Noto Sans", "Noto Sans CJK JP", sans-serif;
       max-width: 60rem; margin: 2rem auto; padding: 0 1rem; color: #222; line-height: 1.5; }
h1 { font-size: 1.5rem; } h2 { font-size: 1.25rem; margin-top: 2.5rem; border-bottom: 1px solid #ccc; }
h3 { font-size: 1rem; margin: 1.2rem 0 .4rem; }
.review { border: 1px solid #ddd; border-radius: 6px; padding: .6rem .8rem; margin: .5rem 0; }
.text { font-size: 1.05rem; }
.meta { font-size: .85rem; color: #555; margin-top: .3rem; }
.chip { display: inline-block; border-radius: 4px; padding: 0 .35rem; margin: .1rem .15rem; font-size: .9rem; }
.legend span { padding: 0 .4rem; border-radius: 3px; }
"""


def weight_style(weight: float, scale: float) -> str:
    """A background colour for a weight: green (towards the label) or red (against it), as strong as
    |weight| / scale."""
    alpha = min(1.0, abs(weight) / scale) * 0.85 if scale > 0 else 0.0
    rgb = "0,170,60" if weight > 0 else "220,30,30"
    return f"background: rgba({rgb},{alpha:.2f})"


def highlight(text: str, tokens: Sequence, scale: float) -> str:
    """The text as HTML, each token on the background of its weight."""
    parts, end = [], 0
    for start, stop, weight in tokens:
        parts.append(html.escape(text[end:start]))
        style = weight_style(weight, scale)
        parts.append(f'<span style="{style}" title="{weight:+.3f}">{html.escape(text[start:stop])}</span>')
        end = stop
    parts.append(html.escape(text[end:]))
    return "".join(parts)


def chips(features: Sequence, scale: float) -> str:
    return " ".join(f'<span class="chip" style="{weight_style(weight, scale)}">{html.escape(feature)} '
                    f"{weight:+.2f}</span>" for feature, weight in features)


def pick(gold: Sequence[str], student: Sequence[str], teacher: Sequence[str], lengths: Sequence[int], n: int,
         seed: str) -> Dict[str, List[int]]:
    """Up to n reviews per group, no review in two groups, short ones first, in a seeded order."""
    groups = {
        "disagrees": [i for i in range(len(gold)) if student[i] != teacher[i]],
        "wrong": [i for i in range(len(gold)) if student[i] != gold[i]],
        "right": [i for i in range(len(gold)) if student[i] == gold[i] == teacher[i]],
    }
    rng, taken, picked = random.Random(seed), set(), {}
    for name, members in groups.items():
        members = [i for i in members if i not in taken]
        rng.shuffle(members)
        members.sort(key=lambda i: lengths[i] > SHORT)  # stable: short ones first, shuffled among themselves
        picked[name] = members[:n]
        taken.update(picked[name])
    return picked


def runner_up(cats: Dict[str, float], labels: Sequence[str], label: str) -> str:
    """The most probable label but `label`; of equally probable ones, the first in `labels`."""
    return top_label(cats, [other for other in labels if other != label])


def probabilities(cats: Dict[str, float], labels: Sequence[str]) -> str:
    """Every label's probability, most probable first, the top label in bold."""
    ranked = sorted(labels, key=lambda label: -cats[label])  # stable: ties in the order of labels
    return ", ".join(f"<b>{label} {cats[label]:.2f}</b>" if i == 0 else f"{label} {cats[label]:.2f}"
                     for i, label in enumerate(ranked))


def label_features(student, texts: List[str], labels: Sequence[str], top_n: int) -> Dict[str, List[Tuple[str, float]]]:
    """Per label, the top_n n-grams of texts that weigh most towards it: each n-gram's weight for the
    label against the mean of its weights for the other labels (with two labels, the one against the
    other), heaviest first."""
    found = ngram_scores(student, texts)
    columns = {label: found.scores[:, found.labels.index(label)] for label in labels}
    towards = {}
    for label in labels:
        others = [other for other in labels if other != label]
        weights = sum((columns[label] - columns[other] for other in others), numpy.zeros(len(found.ngrams))) / len(others)
        ranked = sorted(((ngram, weight) for ngram, weight in zip(found.ngrams, weights.tolist()) if weight > 0),
                        key=lambda pair: -pair[1])
        towards[label] = ranked[:top_n]
    return towards


def language_section(lang: str, student, teacher_cats: List[Dict[str, float]], texts: List[str], gold: List[str],
                     n: int, top_n: int, task: Task) -> str:
    """The HTML of one language: its top n-grams per label and its groups of explained reviews, beside the
    teacher's probabilities for the same texts."""
    labels = task.labels
    student_cats = [dict(doc.cats) for doc in student.pipe(texts)]
    for name, cats in (("student", student_cats), ("teacher", teacher_cats)):
        missing = [label for label in labels if cats and label not in cats[0]]
        if missing:
            raise DataError(f"{lang}: the {name} has no score for {', '.join(missing)} of the task {task.name}'s labels "
                            f"{list(labels)}: retrain it on this task's data (`spacy project run all`)")
    student_labels = [top_label(cats, labels) for cats in student_cats]
    teacher_labels = [top_label(cats, labels) for cats in teacher_cats]
    picked = pick(gold, student_labels, teacher_labels, [len(t) for t in texts], n, f"examples:{lang}")
    explained = {i: explain(student, texts[i], label=student_labels[i],
                            other=runner_up(student_cats[i], labels, student_labels[i]))
                 for ids in picked.values() for i in ids}
    token_weights = sorted(abs(w) for e in explained.values() for _, _, w in e.tokens)
    scale = token_weights[int(0.95 * (len(token_weights) - 1))] if token_weights else 1.0
    towards = label_features(student, texts, labels, top_n)
    accuracy = sum(s == g for s, g in zip(student_labels, gold)) / len(gold)
    agreement = sum(s == t for s, t in zip(student_labels, teacher_labels)) / len(gold)
    against = "" if len(labels) == 2 else " (against the mean of the other labels)"
    out = [f'<h2 id="{lang}">{lang}</h2>',
           f"<p>{len(texts)} test reviews: the student's accuracy {accuracy:.3f}, its agreement with the teacher "
           f"{agreement:.3f}.</p>"]
    out += [f"<h3>The n-grams that weigh most towards {html.escape(label)}{against}</h3>"
            f"<p>{chips(towards[label], 2 * scale)}</p>" for label in labels]
    another = "the other" if len(labels) == 2 else "another"
    for name, ids in picked.items():
        out.append(f"<h3>{GROUPS[name].format(another=another)} ({len(ids)})</h3>")
        for i in ids:
            e = explained[i]
            strongest = [(c.feature, c.weight) for c in e.contributions[:4]]
            out.append(
                f'<div class="review"><div class="text">{highlight(texts[i], e.tokens, scale)}</div>'
                f'<div class="meta">gold <b>{html.escape(gold[i])}</b> · student {probabilities(student_cats[i], labels)} '
                f"· teacher {probabilities(teacher_cats[i], labels)} · {html.escape(e.label)} against "
                f"{html.escape(e.other)}, strongest: {chips(strongest, 2 * scale)}</div></div>"
            )
    return "\n".join(out)


def render_page(sections: Dict[str, str], title: str) -> str:
    nav = " · ".join(f'<a href="#{lang}">{lang}</a>' for lang in sections)
    legend = (f'<p class="legend">Each word on the colour of what it adds to the logit of the student\'s label '
              f'less that of the runner-up, the next most probable label: '
              f'<span style="{weight_style(1, 1)}">towards the student\'s label</span> '
              f'<span style="{weight_style(-1, 1)}">towards the runner-up</span>, stronger for more; an n-gram\'s '
              "weight is shared among its words. Hover a word for its weight.</p>")
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
            f"<style>{CSS}</style></head><body><h1>{html.escape(title)}</h1>{legend}<p>{nav}</p>\n"
            + "\n".join(sections.values()) + "\n</body></html>\n")


def write_examples(
    languages: List[str], *, training_dir: Path, splits_dir: Path, summary_path: Path, output: Path,
    n_per_group: int, top_n: int, unlabeled: List[str],
) -> None:
    """Write the page of the default student's explained test reviews to `output` (module doc)."""
    no_test = [lang for lang in unlabeled if not (splits_dir / lang / "test.spacy").is_file()]
    if no_test:
        msg.info(f"No examples for {', '.join(no_test)}: no gold-labelled test reviews")
        languages = [lang for lang in languages if lang not in no_test]
    if not summary_path.is_file():
        raise MissingInput(f"Missing {summary_path}: run `spacy project run report` first")
    student_name = json.loads(summary_path.read_text(encoding="utf8"))["default_student"]
    for path in [training_dir / student_name / lang / "model-best" for lang in languages]:
        if not (path / "meta.json").is_file():
            raise MissingInput(f"No trained pipeline at {path}: run `spacy project run all` first")
    task = read_task(splits_dir / "task.json")
    predictions_dir = test_predictions_dir(training_dir / "teacher")
    sections = {}
    for lang in languages:
        student = spacy.load(training_dir / student_name / lang / "model-best")
        test_path = splits_dir / lang / "test.spacy"
        teacher_cats = read_predictions(predictions_dir / f"{lang}.json", test_path, "teacher-train")
        docs = list(DocBin().from_disk(test_path).get_docs(student.vocab))
        gold = [max(doc.cats, key=doc.cats.get) for doc in docs]
        sections[lang] = language_section(lang, student, teacher_cats, [doc.text for doc in docs], gold, n_per_group,
                                          top_n, task)
        msg.good(f"{lang}: explained")
    output.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(output) as tmp:
        tmp.write_text(render_page(sections, f"Why the student said it: {student_name} on test reviews"), encoding="utf8")
    msg.good(f"Wrote {output}")
