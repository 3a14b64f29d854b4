"""review_distill/textcat_score.py: `python -m {package} score FILE`, a file's rows with their scores."""
import csv
import io
import json

import pytest
import spacy

from review_distill import textcat_distill  # noqa: F401  (registers the factory)
from review_distill.textcat_score import ScoreError, file_format, score_cli, score_file
from util import BOW_V3, ENCODABLE, randomize, soft_examples


@pytest.fixture(scope="module")
def nlp():
    nlp = spacy.blank("en", config={"nlp": {"tokenizer": ENCODABLE}})
    nlp.add_pipe("textcat_distill", name="textcat", config={"model": BOW_V3})
    nlp.initialize(lambda: soft_examples(nlp))
    randomize(nlp.get_pipe("textcat").model)
    return nlp


def score(nlp, data: bytes, fmt, **options):
    """The scored text, the bad rows' (line, problem) and the counts."""
    out, bad = io.StringIO(), []
    counts = score_file(nlp, io.BytesIO(data), out, name="reviews", fmt=fmt,
                        report=lambda row: bad.append((row.line, row.problem)), **options)
    return out.getvalue(), bad, counts


def test_a_csv_keeps_its_columns_and_gains_the_scores_of_each_good_row(nlp):
    data = ('id,body,stars\n1,great phone,5\n2,"bad, broken\nlamp",1\n3,only two\n4,x,3,extra\n'
            '5,"",2\n6,fine,4\n').encode() + b"7,bad \xff bytes,1\n8,last,2\n"
    text, bad, counts = score(nlp, data, "csv", text_column="body", chunk_size=2)
    rows = list(csv.DictReader(io.StringIO(text)))
    assert list(rows[0]) == ["id", "body", "stars", "predicted", "p_POS", "p_NEG"]
    assert [row["id"] for row in rows] == ["1", "2", "5", "6", "8"]
    assert rows[1]["body"] == "bad, broken\nlamp"
    assert bad == [(5, "2 fields, where the header has 3"), (6, "4 fields, where the header has 3"), (9, "not UTF-8")]
    assert counts == {"scored": 5, "bad": 3}
    for row in rows:
        cats = nlp(row["body"]).cats
        assert float(row["p_POS"]) == pytest.approx(cats["POS"], abs=1e-6)
        assert float(row["p_NEG"]) == pytest.approx(cats["NEG"], abs=1e-6)
        assert row["predicted"] == max(cats, key=cats.get)


def test_jsonl_rows_that_are_not_objects_with_a_text_are_named_by_line(nlp):
    lines = ['{"id": 1, "text": "good book"}', '{"id": 2, "text": null}', "not json", "[1, 2]", "",
             '{"id": 3, "text": "half \\ud83d an emoji"}', '{"id": 4, "text": 5}', '{"id": 5}',
             '{"id": 6, "text": "ok", "predicted": "POS"}', '{"id": 7, "text": "' + "a" * (nlp.max_length + 1) + '"}']
    text, bad, counts = score(nlp, "\n".join(lines).encode(), "jsonl")
    rows = [json.loads(line) for line in text.splitlines()]
    assert [row["id"] for row in rows] == [1, 3]
    assert rows[1]["text"] == "half \ud83d an emoji"  # written back as it came, a \u escape
    assert list(rows[0]) == ["id", "text", "predicted", "p_POS", "p_NEG"]
    assert [line for line, _ in bad] == [2, 3, 4, 7, 8, 9, 10]
    problems = dict(bad)
    assert problems[2] == problems[8] == "no 'text' value"
    assert problems[3].startswith("not JSON") and problems[4] == "a JSON list, not an object"
    assert problems[7] == "its 'text' is int, not text"
    assert problems[9].startswith("already has the field 'predicted'")
    assert problems[10].startswith(f"its text has {nlp.max_length + 1:,} characters")
    assert counts == {"scored": 2, "bad": 7}


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_chunks_and_processes_give_the_same_scores(nlp, fmt):
    texts = [f"text {i} good" if i % 3 else f"bad {i} broken lamp" for i in range(50)]
    if fmt == "csv":
        data = "text\n" + "".join(f'"{text}"\n' for text in texts)
    else:
        data = "".join(json.dumps({"text": text}) + "\n" for text in texts)
    whole, _, _ = score(nlp, data.encode(), fmt, chunk_size=1000)
    assert score(nlp, data.encode(), fmt, chunk_size=7, batch_size=3)[0] == whole
    assert score(nlp, data.encode(), fmt, chunk_size=20, n_process=2)[0] == whole
    assert len(whole.splitlines()) == len(texts) + (fmt == "csv")


def test_only_the_first_chunks_words_stay_in_the_vocabulary():
    """Memory does not grow with the file: a word first seen after the first chunk is gone once it is scored."""
    nlp = spacy.blank("en", config={"nlp": {"tokenizer": ENCODABLE}})
    nlp.add_pipe("textcat_distill", name="textcat", config={"model": BOW_V3})
    nlp.initialize(lambda: soft_examples(nlp))
    data = "text\n" + "".join(f"common word{i}\n" for i in range(30))
    _, _, counts = score(nlp, data.encode(), "csv", chunk_size=10)
    assert counts == {"scored": 30, "bad": 0}
    assert "common" in nlp.vocab.strings and "word9" in nlp.vocab.strings
    assert not any(f"word{i}" in nlp.vocab.strings for i in range(10, 30))


def test_a_byte_order_mark_and_a_prefix(nlp):
    text, bad, _ = score(nlp, "\ufeffbody,predicted\nnice,yes\n".encode(), "csv", text_column="body", prefix="m_")
    assert not bad and text.splitlines()[0] == "body,predicted,m_predicted,m_p_POS,m_p_NEG"


@pytest.mark.parametrize("data, options, message", [
    (b"", {}, "reviews is empty"),
    (b"id,body\n1,x\n", {}, "reviews has no column 'text' (its columns: id, body): name the text's column with --text-column"),
    (b"text,p_POS\nx,1\n", {}, "reviews already has the column 'p_POS'"),
])
def test_a_csv_that_cannot_be_scored_says_why(nlp, data, options, message):
    with pytest.raises(ScoreError, match=message.replace("(", r"\(").replace(")", r"\)")):
        score(nlp, data, "csv", **options)


def test_the_format_comes_from_the_extension_or_the_option():
    assert [file_format(name, None) for name in ("a.csv", "b.TSV", "c.jsonl", "d.ndjson")] == ["csv", "csv", "jsonl", "jsonl"]
    assert file_format("a.txt", "csv") == "csv"
    with pytest.raises(ScoreError, match="give --format csv or --format jsonl"):
        file_format("a.txt", None)


def test_the_cli_writes_the_output_whole_or_not_at_all(nlp, tmp_path, capsys):
    good = tmp_path / "in.tsv"
    good.write_text("text\tid\ngood book\t1\nbroken\n")
    out = tmp_path / "out.tsv"
    assert score_cli(nlp, [str(good), "-o", str(out)]) == 0
    assert out.read_text().splitlines()[0] == "text\tid\tpredicted\tp_POS\tp_NEG"
    assert len(out.read_text().splitlines()) == 2
    err = capsys.readouterr().err
    assert f"{good} line 3: 1 fields, where the header has 2; left out" in err and "Scored 1 rows" in err
    bad = tmp_path / "bad.csv"
    bad.write_text("body\nx\n")
    assert score_cli(nlp, [str(bad), "-o", str(tmp_path / "none.csv")]) == 1
    assert "has no column 'text'" in capsys.readouterr().err
    assert not list(tmp_path.glob("none.csv*"))
    only_bad = tmp_path / "only_bad.jsonl"
    only_bad.write_text('{"body": "x"}\n')
    assert score_cli(nlp, [str(only_bad)]) == 1
    with pytest.raises(SystemExit):
        score_cli(nlp, ["-", "--n-process", "0"])
