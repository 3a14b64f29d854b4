"""`python -m {package} score FILE`: a CSV or JSON-lines file with each row's label probabilities and
predicted label added, in the same format. The file is streamed a chunk of rows at a time, each after
the first inside spaCy's memory zone, so memory stays the same however long it is. A bad row (a line
that is not UTF-8 or not JSON, a missing text, a text over the pipeline's max_length) is named by its
line on standard error and left out; the others are scored. Shipped in the package, it imports only
spaCy's dependencies."""
import contextlib
import csv
import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Callable, Dict, Iterable, Iterator, List, Optional, Sequence, Set, Tuple

from spacy.language import Language
from spacy.pipeline.textcat import TextCategorizer

FORMATS = {".csv": "csv", ".tsv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "jsonl"}


class ScoreError(ValueError):
    """A file that cannot be scored at all (no such column, unknown format)."""


@dataclass
class Row:
    """One record of the input: the line it starts on, its fields, its text, or why it is left out."""

    line: int
    fields: Optional[Dict]
    text: Optional[str] = None
    problem: Optional[str] = None


def output_columns(labels: Sequence[str], prefix: str) -> List[str]:
    """The columns added to each row: the predicted label, then each label's probability."""
    return [f"{prefix}predicted"] + [f"{prefix}p_{label}" for label in labels]


def decoded_lines(stream: IO[bytes], invalid: Set[int], progress=None) -> Iterator[str]:
    """Each line of a binary stream as text; the numbers of lines that are not UTF-8 go into
    `invalid` (their text has U+FFFD in place of the bad bytes). A byte order mark is dropped."""
    for number, raw in enumerate(stream, 1):
        if progress is not None:
            progress.update(len(raw))
        if number == 1 and raw.startswith(b"\xef\xbb\xbf"):
            raw = raw[3:]
        try:
            yield raw.decode("utf-8")
        except UnicodeDecodeError:
            invalid.add(number)
            yield raw.decode("utf-8", errors="replace")


def _text_problem(text, column: str, max_length: int) -> Optional[str]:
    if text is None:
        return f"no {column!r} value"
    if not isinstance(text, str):
        return f"its {column!r} is {type(text).__name__}, not text"
    if len(text) > max_length:
        return f"its text has {len(text):,} characters, more than the pipeline's max_length of {max_length:,}"
    return None


def read_csv(lines: Iterable[str], invalid: Set[int], column: str, max_length: int, delimiter: str,
             name: str, added: Sequence[str]) -> Tuple[List[str], Iterator[Row]]:
    """The header of a CSV file (its first line) and its rows."""
    reader = csv.DictReader(lines, delimiter=delimiter)
    header = reader.fieldnames
    if not header:
        raise ScoreError(f"{name} is empty: a CSV file starts with a header line naming its columns")
    if column not in header:
        raise ScoreError(f"{name} has no column {column!r} (its columns: {', '.join(header)}): "
                         "name the text's column with --text-column")
    taken = [col for col in added if col in header]
    if taken:
        raise ScoreError(f"{name} already has the column {taken[0]!r}: name the new columns apart with --prefix, "
                         "e.g. --prefix model_")
    csv.field_size_limit(max(csv.field_size_limit(), max_length + 1))
    return list(header), _csv_rows(reader, invalid, column, max_length)


def _csv_rows(reader: csv.DictReader, invalid: Set[int], column: str, max_length: int) -> Iterator[Row]:
    width = len(reader.fieldnames)
    start = reader.line_num + 1
    while True:
        try:
            fields = next(reader)
        except StopIteration:
            return
        except csv.Error as error:
            yield Row(start, None, problem=f"not readable as CSV ({error}; an unclosed quote?)")
            start = reader.line_num + 1
            continue
        end = reader.line_num
        if None in fields or None in fields.values():
            given = width + len(fields.get(None, [])) - list(fields.values()).count(None)
            problem = f"{given} fields, where the header has {width}"
        elif any(line in invalid for line in range(start, end + 1)):
            problem = "not UTF-8"
        else:
            problem = _text_problem(fields[column], column, max_length)
        yield Row(start, fields, fields.get(column), problem)
        start = end + 1


def read_jsonl(lines: Iterable[str], invalid: Set[int], column: str, max_length: int,
               added: Sequence[str]) -> Iterator[Row]:
    """The rows of a JSON-lines file: one object per line; blank lines are skipped."""
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        if number in invalid:
            yield Row(number, None, problem="not UTF-8")
            continue
        try:
            fields = json.loads(line)
        except json.JSONDecodeError as error:
            yield Row(number, None, problem=f"not JSON ({error.msg} at column {error.colno})")
            continue
        if not isinstance(fields, dict):
            yield Row(number, None, problem=f"a JSON {type(fields).__name__}, not an object")
            continue
        taken = [key for key in added if key in fields]
        problem = (f"already has the field {taken[0]!r}: name the new fields apart with --prefix" if taken
                   else _text_problem(fields.get(column), column, max_length))
        yield Row(number, fields, fields.get(column), problem)


def _json_line(fields: Dict) -> str:
    line = json.dumps(fields, ensure_ascii=False)
    try:
        line.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate, written as a \u escape in the input
        line = json.dumps(fields)
    return line + "\n"


def score_rows(nlp: Language, rows: Iterable[Row], write: Callable[[Dict], object], added: Sequence[str],
               report: Callable[[Row], object], *, chunk_size: int, batch_size: int, n_process: int) -> Dict[str, int]:
    """Score the good rows a chunk at a time, calling write(fields) for each with the added columns;
    report(row) for each bad row. RETURNS the counts of scored and bad rows. The words of the first chunk
    stay in the vocabulary and the tokenizer's cache, so that the common words are looked up, not made
    anew, in every chunk; each later chunk runs inside nlp.memory_zone(), which frees the words it
    added."""
    labels = textcat_labels(nlp)
    counts = {"scored": 0, "bad": 0}
    chunk: List[Row] = []

    def flush():
        with nlp.memory_zone() if counts["scored"] else contextlib.nullcontext():
            docs = nlp.pipe((row.text for row in chunk), batch_size=batch_size, n_process=n_process)
            for row, doc in zip(chunk, docs):
                cats = doc.cats
                values = [max(labels, key=cats.__getitem__)] + [round(cats[label], 6) for label in labels]
                write({**row.fields, **dict(zip(added, values))})
        counts["scored"] += len(chunk)
        chunk.clear()

    for row in rows:
        if row.problem is not None:
            counts["bad"] += 1
            report(row)
            continue
        chunk.append(row)
        if len(chunk) >= chunk_size:
            flush()
    if chunk:
        flush()
    return counts


def textcat_labels(nlp: Language) -> Tuple[str, ...]:
    """The labels of the pipeline's one text classifier."""
    names = [name for name, pipe in nlp.pipeline if isinstance(pipe, TextCategorizer)]
    if len(names) != 1:
        raise ScoreError(f"The pipeline has {len(names)} text classifiers ({names}); score needs one")
    return tuple(nlp.get_pipe(names[0]).labels)


def file_format(path: str, given: Optional[str]) -> str:
    """csv or jsonl: as given, else by the file's extension."""
    if given:
        return given
    found = FORMATS.get(Path(path).suffix.lower())
    if found is None:
        raise ScoreError(f"Cannot tell the format of {path} from its extension: give --format csv or --format jsonl")
    return found


def score_file(nlp: Language, stream: IO[bytes], out: IO[str], *, name: str, fmt: str, text_column: str = "text",
               delimiter: str = ",", prefix: str = "", report: Callable[[Row], object], progress=None,
               chunk_size: int = 10000, batch_size: int = 256, n_process: int = 1) -> Dict[str, int]:
    """Write the rows of `stream` (a file called `name`, csv or jsonl) with their scores to `out`.
    RETURNS the counts of scored and bad rows."""
    added = output_columns(textcat_labels(nlp), prefix)
    invalid: Set[int] = set()
    lines = decoded_lines(stream, invalid, progress)
    if fmt == "csv":
        header, rows = read_csv(lines, invalid, text_column, nlp.max_length, delimiter, name, added)
        writer = csv.DictWriter(out, fieldnames=header + added, delimiter=delimiter, lineterminator="\n")
        writer.writeheader()
        write = writer.writerow
    else:
        rows = read_jsonl(lines, invalid, text_column, nlp.max_length, added)

        def write(fields):
            out.write(_json_line(fields))

    return score_rows(nlp, rows, write, added, report, chunk_size=chunk_size, batch_size=batch_size,
                      n_process=n_process)


def score_cli(nlp: Language, argv: Optional[Sequence[str]] = None) -> int:
    """`python -m {package} score FILE [--text-column text] [-o OUT]`: RETURNS the exit status (1 when
    the file cannot be scored, or no row of it could)."""
    import argparse

    from tqdm import tqdm

    parser = argparse.ArgumentParser(
        prog=f"python -m {nlp.meta.get('lang', '')}_{nlp.meta.get('name', '')} score",
        description="Add each label's probability and the predicted label to every row of a CSV or JSON-lines file.")
    parser.add_argument("file", help="The CSV (with a header line) or JSON-lines file; - for standard input")
    parser.add_argument("--text-column", default="text", help="The column or field holding the text (default: text)")
    parser.add_argument("-o", "--output", help="Where to write the scored file (default: standard output)")
    parser.add_argument("--format", choices=("csv", "jsonl"), help="Default: by the file's extension")
    parser.add_argument("--delimiter", help="The CSV's field separator (default: tab for .tsv, else a comma)")
    parser.add_argument("--prefix", default="", help="Prefix of the added columns' names")
    parser.add_argument("--n-process", type=int, default=1, help="Processes to score with")
    parser.add_argument("--batch-size", type=int, default=256, help="Texts per batch")
    parser.add_argument("--chunk-size", type=int, default=10000, help="Rows held in memory at a time")
    args = parser.parse_args(argv)
    for option in ("n_process", "batch_size", "chunk_size"):
        if getattr(args, option) < 1:
            parser.error(f"--{option.replace('_', '-')} must be 1 or more, not {getattr(args, option)}")
    if args.file == "-" and not args.format:
        parser.error("reading standard input needs --format csv or --format jsonl")
    name = "standard input" if args.file == "-" else args.file
    try:
        fmt = file_format(args.file, args.format)
        stream = sys.stdin.buffer if args.file == "-" else open(args.file, "rb")
    except (ScoreError, OSError) as error:
        print(f"Error: {error}", file=sys.stderr)
        return 1
    progress = tqdm(total=os.fstat(stream.fileno()).st_size or None, unit="B", unit_scale=True, desc="Scoring",
                    file=sys.stderr, disable=not sys.stderr.isatty())

    def report(row: Row):
        progress.clear()
        print(f"{name} line {row.line}: {row.problem}; left out", file=sys.stderr)

    part = Path(args.output + ".part") if args.output else None
    out = open(part, "w", encoding="utf-8", newline="") if part else sys.stdout
    delimiter = args.delimiter or ("\t" if Path(args.file).suffix.lower() == ".tsv" else ",")
    try:
        counts = score_file(nlp, stream, out, name=name, fmt=fmt, text_column=args.text_column, delimiter=delimiter,
                            prefix=args.prefix, report=report, progress=progress, chunk_size=args.chunk_size,
                            batch_size=args.batch_size, n_process=args.n_process)
    except ScoreError as error:
        print(f"Error: {error}", file=sys.stderr)
        if part:
            part.unlink(missing_ok=True)
        return 1
    finally:
        progress.close()
        stream.close()
        if part:
            out.close()
    if part:
        part.replace(args.output)
    left_out = f"; left out {counts['bad']:,} bad rows (above)" if counts["bad"] else ""
    print(f"Scored {counts['scored']:,} rows of {name}{left_out}", file=sys.stderr)
    return 0 if counts["scored"] or not counts["bad"] else 1
