"""The SQLite LLM cache: content-addressed keys, round trips, recorded origins, and two processes at once."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import textwrap

import pytest

from dysen_core.chat import ChatMessage, Completion, Usage
from dysen_core.errors import ConfigError
from dysen_core.llm_cache import FORMAT_VERSION, LLMCache, cache_key, default_cache_path, request_record

IDENTITY = {"backend": "llama-cpp", "model": "m.gguf:1:ab", "temperature": 0.0, "max_tokens": 512}
MESSAGES = [ChatMessage(role="system", content="You are a helpful assistant."), ChatMessage(role="user", content="hi")]
SCHEMA = {"type": "object", "properties": {"a": {"type": "string"}}, "required": ["a"]}


def test_key_ignores_dict_order_but_not_content():
    key = cache_key(IDENTITY, MESSAGES, SCHEMA)
    assert len(key) == 64 and key == cache_key(
        dict(reversed(IDENTITY.items())), MESSAGES, dict(reversed(SCHEMA.items()))
    )
    variants = [
        cache_key({**IDENTITY, "temperature": 0.7}, MESSAGES, SCHEMA),
        cache_key({**IDENTITY, "model": "other.gguf:1:ab"}, MESSAGES, SCHEMA),
        cache_key(IDENTITY, [*MESSAGES[:1], ChatMessage(role="user", content="hi!")], SCHEMA),
        cache_key(IDENTITY, [*MESSAGES[:1], ChatMessage(role="assistant", content="hi")], SCHEMA),
        cache_key(IDENTITY, list(reversed(MESSAGES)), SCHEMA),
        cache_key(IDENTITY, MESSAGES, None),
        cache_key(IDENTITY, MESSAGES, {**SCHEMA, "required": []}),
    ]
    assert len({key, *variants}) == len(variants) + 1


def test_round_trip_keeps_the_answer_and_its_origin(tmp_path):
    completion = Completion(
        text='{"a": "x"}', usage=Usage(prompt_tokens=7, completion_tokens=3, latency_s=0.5), model="m"
    )
    key = cache_key(IDENTITY, MESSAGES, SCHEMA)
    with LLMCache(tmp_path / "c.sqlite") as cache:
        assert cache.get(key) is None and len(cache) == 0
        cache.put(key, completion, request_record(IDENTITY, MESSAGES, SCHEMA))
        cache.put(key, completion, request_record(IDENTITY, MESSAGES, SCHEMA))  # replaces, never duplicates
        assert cache.get(key) == completion and len(cache) == 1
        origin = cache.request(key)
    assert origin["llm"] == IDENTITY and origin["schema"] == SCHEMA and origin["messages"][1]["content"] == "hi"
    with LLMCache(tmp_path / "c.sqlite") as reopened:  # persistent
        assert reopened.get(key) == completion


def test_database_uses_wal_and_a_format_version(tmp_path):
    LLMCache(tmp_path / "c.sqlite").close()
    db = sqlite3.connect(tmp_path / "c.sqlite")
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert db.execute("PRAGMA user_version").fetchone()[0] == FORMAT_VERSION
    db.execute("PRAGMA user_version=99")
    db.close()
    with pytest.raises(ConfigError, match=r"format version 99, this dysen reads 1; delete it"):
        LLMCache(tmp_path / "c.sqlite")


def test_a_file_that_is_not_a_cache_is_a_one_line_error(tmp_path):
    bad = tmp_path / "notes.txt"
    bad.write_text("not a database " * 100)
    with pytest.raises(ConfigError, match=r"cannot open LLM cache .*notes.txt.*choose another cache path") as info:
        LLMCache(bad)
    assert "\n" not in str(info.value)


def test_default_path_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("DYSEN_CACHE_DIR", str(tmp_path))
    assert default_cache_path() == tmp_path / "llm-cache.sqlite"
    monkeypatch.delenv("DYSEN_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert default_cache_path() == tmp_path / "xdg" / "dysen" / "llm-cache.sqlite"


WRITER = textwrap.dedent(
    """
    import os, sys, time
    from dysen_core.chat import Completion
    from dysen_core.llm_cache import LLMCache
    path, worker, n, go = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
    cache = LLMCache(path)
    print("ready", flush=True)
    deadline = time.time() + 60
    while not os.path.exists(go) and time.time() < deadline:  # start together with the other writer
        time.sleep(0.001)
    print(time.time())
    for i in range(n):
        cache.put(f"{worker}-{i}", Completion(text=f"{worker} {i}"), {"worker": worker})
        cache.put(f"shared-{i % 20}", Completion(text=f"shared {i % 20}"), {"worker": worker})
        assert cache.get(f"{worker}-{i}").text == f"{worker} {i}"
        cache.get(f"shared-{(i * 7) % 20}")
    print(time.time())
    cache.close()
    """
)


def test_two_processes_write_one_cache_at_once(tmp_path):
    path, go = tmp_path / "shared.sqlite", tmp_path / "go"
    n = 1000
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, str(path), worker, str(n), str(go)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for worker in ("a", "b")
    ]
    for proc in procs:
        assert proc.stdout.readline().strip() == "ready", proc.communicate(timeout=60)[1]
    go.touch()
    spans = []
    for proc in procs:
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
        spans.append([float(t) for t in out.split()])
    assert max(start for start, _ in spans) < min(end for _, end in spans), "the two writers did not overlap"
    with LLMCache(path) as cache:
        assert len(cache) == 2 * n + 20
        assert cache.get("a-999").text == "a 999" and cache.get("b-0").text == "b 0"
        assert cache.get("shared-13").text == "shared 13"


def test_a_cache_whose_lock_is_held_too_long_fails_in_one_line(tmp_path):
    path = tmp_path / "c.sqlite"
    with LLMCache(path, busy_timeout_s=0.2) as cache:
        holder = sqlite3.connect(path, isolation_level=None)
        holder.execute("BEGIN EXCLUSIVE")  # another process in the middle of a long write
        try:
            with pytest.raises(ConfigError, match=r"LLM cache .*c.sqlite failed: database is locked; check the disk"):
                cache.put("k", Completion(text="x"), {})
        finally:
            holder.rollback()
            holder.close()
        cache.put("k", Completion(text="x"), {})  # the lock is gone: writes work again
        assert cache.get("k").text == "x"


def test_text_vectors_are_cached_next_to_the_answers(tmp_path):
    """Demonstration selection's embeddings: stored once, read back by a new process without the model."""
    import torch

    from dysen_core.cached_embeddings import CachedEmbeddings
    from dysen_core.text_encoders import RandomTextEncoder

    class Counting(RandomTextEncoder):
        calls = 0

        def embed(self, texts):
            Counting.calls += len(texts)
            return super().embed(texts)

        def cache_identity(self):
            return {"name": self.name, "seed": self.options.seed, "dim": self.options.dim}

    texts = ["a red circle moves right", "a dog barks", "a red circle moves right"]
    with LLMCache(tmp_path / "c.sqlite") as cache:
        first = CachedEmbeddings(Counting(), cache).embed(texts)
    assert Counting.calls == 2  # the repeated text is embedded once
    torch.testing.assert_close(first, RandomTextEncoder().embed(texts))
    with LLMCache(tmp_path / "c.sqlite") as cache:
        again = CachedEmbeddings(Counting(), cache).embed(texts[::-1])
        other_seed = CachedEmbeddings(Counting(RandomTextEncoder.Options(seed=1)), cache).embed(texts[:1])
    assert Counting.calls == 3  # only the other encoder's text missed
    assert torch.equal(again, first.flip(0)) and not torch.equal(other_seed[0], first[0])
