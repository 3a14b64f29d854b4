"""The mirror download of the data step, against a local HTTP server standing in for the mirror: a
transfer cut halfway resumes where it stopped, a corrupt file is named and deleted, and without a
local copy or a reachable mirror one message gives both ways out."""
import hashlib
import http.server
import json
import threading

import pytest

from util import invoke_script
from review_distill.errors import DataError
from review_distill.sources import download

REVIEWS = "".join(json.dumps({"id": f"en_{i}", "text": f"review number {i} " * 20, "label": i % 5}) + "\n"
                  for i in range(200)).encode()
LINES = REVIEWS.splitlines(keepends=True)


class Mirror(http.server.BaseHTTPRequestHandler):
    """Serves `files` with Range requests; cuts the first `cut_after` bytes' transfer short once."""
    files, cut_after, sha256, requests = {}, None, None, []

    def do_GET(self):
        body = self.files.get(self.path)
        type(self).requests.append((self.path, self.headers.get("Range")))
        if body is None:
            self.send_error(404)
            return
        start = int(self.headers["Range"][6:].rstrip("-")) if self.headers.get("Range") else 0
        self.send_response(206 if start else 200)
        self.send_header("Content-Length", str(len(body) - start))
        if self.sha256:
            self.send_header("X-Linked-Etag", f'"{self.sha256}"')
        self.end_headers()
        if self.cut_after is not None:
            self.wfile.write(body[start:self.cut_after])
            type(self).cut_after = None
            self.close_connection = True
            return
        self.wfile.write(body[start:])

    def log_message(self, *args):
        pass


@pytest.fixture
def mirror():
    Mirror.files, Mirror.cut_after, Mirror.sha256, Mirror.requests = {"/en/train.jsonl": REVIEWS}, None, None, []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Mirror)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


def test_a_cut_transfer_resumes_where_it_stopped(mirror, tmp_path):
    Mirror.cut_after, Mirror.sha256 = 5000, hashlib.sha256(REVIEWS).hexdigest()
    assert download(f"{mirror}/en/train.jsonl", tmp_path / "train.jsonl")
    assert (tmp_path / "train.jsonl").read_bytes() == REVIEWS and not (tmp_path / "train.jsonl.part").exists()
    assert Mirror.requests == [("/en/train.jsonl", None), ("/en/train.jsonl", "bytes=5000-")]
    assert not download(f"{mirror}/en/validation.jsonl", tmp_path / "validation.jsonl")


def test_a_part_left_by_an_earlier_run_is_resumed(mirror, tmp_path):
    (tmp_path / "train.jsonl.part").write_bytes(REVIEWS[:777])
    assert download(f"{mirror}/en/train.jsonl", tmp_path / "train.jsonl")
    assert (tmp_path / "train.jsonl").read_bytes() == REVIEWS and Mirror.requests == [("/en/train.jsonl", "bytes=777-")]


@pytest.mark.parametrize("sha256,body,problem", [
    ("0" * 64, REVIEWS, "its SHA-256 is not the 0000"),
    (None, b"".join(LINES[:5]) + b"\x00garbage\n" + b"".join(LINES[5:]), "line 6 is not a JSON object"),
])
def test_a_corrupt_download_is_named_and_deleted(mirror, tmp_path, sha256, body, problem):
    Mirror.files["/en/train.jsonl"], Mirror.sha256 = body, sha256
    with pytest.raises(DataError, match=f"The download of {mirror}/en/train.jsonl is corrupt: {problem}.*deleted"):
        download(f"{mirror}/en/train.jsonl", tmp_path / "train.jsonl")
    assert list(tmp_path.iterdir()) == []


def test_the_data_step_reads_the_mirror_where_there_is_no_local_copy(mirror, tmp_path):
    code, output = invoke_script("data", "en", "--data-dir", str(tmp_path / "none"), "--mirror-url", mirror,
                                 "--cache-dir", str(tmp_path / "cache"), "--output-dir", str(tmp_path / "out"))
    assert code == 0, output
    assert f"en: no local copy at {tmp_path / 'none'}; reading the mirror {mirror}" in output
    assert len((tmp_path / "out" / "en" / "train.jsonl").read_text().splitlines()) == 200


def test_offline_without_a_local_copy_one_message_gives_both_ways_out(tmp_path):
    code, output = invoke_script("data", "en", "--data-dir", str(tmp_path / "none"), "--mirror-url",
                                 "http://127.0.0.1:9/mirror", "--cache-dir", str(tmp_path / "cache"))
    assert code == 1
    assert "Download failed: http://127.0.0.1:9/mirror/en/train.jsonl" in output
    assert "There is no local copy either: put a copy of mteb/amazon_reviews_multi at data_dir" in output
    assert "or run where mirror_url is reachable" in output
