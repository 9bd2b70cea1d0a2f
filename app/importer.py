"""`stint import`: a file sent to a running Stint in batches, over the public HTTP API only.

The approach, for anyone scripting their own import:

- read the file as a stream and turn each row into a batch item (`app.api.files`, the same reading
  the server's /v1/imports does);
- send items in batches to `POST /v1/{kind}/batch`, each with an `Idempotency-Key` derived from the
  file's SHA-256, the run (a random id per run) and the batch number: a batch re-sent after a crash
  is answered, not applied, again, while a new run of the same file is applied afresh;
- people refused only because their manager had not been sent yet are sent again at the end, so a
  file need not list managers before their reports;
- after each batch the server acknowledged, write down how far the run got (a small JSON file next to
  the input); a run that stops (crash, Ctrl-C, lost network) resumes after the last acknowledged batch;
- retry what is worth retrying (429 after `Retry-After`, 409 for a batch still in flight, 5xx and lost
  connections with backoff) and stop on what is not (401, 403, 413);
- write every refused row, with its line, problem and original cells, to an errors CSV that can be
  fixed and imported again.
"""

from __future__ import annotations

import asyncio
import csv
import hashlib
import json
import os
import secrets
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import httpx

from app.api.files import Record, RecordReader, header_problems, problem_fields
from app.domain.imports import ImportFormat, ImportKind

READ_CHUNK = 256 * 1024
RETRIES = 8
"""Retries of one batch (network errors, 5xx, 409 in flight, 429), with backoff: about a minute in all."""


class ImportAborted(Exception):
    """The server refused the run as a whole (bad key, missing scope, bad file): retrying will not help."""


@dataclass
class RunState:
    """How far a run of this file got; kept next to the file (a completed run's stays, to show it finished)."""

    sha256: str
    kind: str
    batch_size: int
    run_id: str = field(default_factory=lambda: secrets.token_hex(6))
    """New for every run (and every dry run): a run's keys never meet another run's answers."""
    batches_done: int = 0
    rows_done: int = 0
    counts: dict[str, int] = field(default_factory=lambda: {"created": 0, "updated": 0, "unchanged": 0, "error": 0})
    deferred: list[int] = field(default_factory=list)
    """Lines of people refused only because their manager was not in yet: sent again at the end."""
    completed: bool = False


@dataclass(frozen=True)
class Summary:
    rows: int
    counts: dict[str, int]
    errors_path: Path | None
    resumed_from: int
    seconds: float


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1024 * 1024), b""):
            digest.update(chunk)
    return digest.hexdigest()


def format_for(path: Path, given: str | None) -> ImportFormat:
    if given:
        return ImportFormat(given)
    return ImportFormat.NDJSON if path.suffix.lower() in (".ndjson", ".jsonl") else ImportFormat.CSV


def records(path: Path, kind: ImportKind, fmt: ImportFormat, on_bytes: Callable[[int], None] = lambda n: None
    ) -> tuple[RecordReader, Iterator[Record]]:
    reader = RecordReader(kind, fmt)

    def read() -> Iterator[Record]:
        with path.open("r", encoding="utf-8-sig", newline="") as f:
            while chunk := f.read(READ_CHUNK):
                yield from reader.feed(chunk)
                if reader.header is not None and header_problems(kind, reader.header):
                    raise ImportAborted(f"{path.name}: {'; '.join(header_problems(kind, reader.header))}")
                on_bytes(len(chunk.encode()))
        yield from reader.close()

    return reader, read()


def batches(items: Iterator[Record], size: int) -> Iterator[list[Record]]:
    batch: list[Record] = []
    for record in items:
        batch.append(record)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


class Importer:
    def __init__(
        self, client: httpx.AsyncClient, path: Path, kind: ImportKind, *, fmt: ImportFormat | None = None,
        batch_size: int = 500, dry_run: bool = False, state_dir: Path | None = None,
        progress: Callable[[int, int, int], None] = lambda bytes_read, total_bytes, rows: None,
        sleep: Callable[[float], Any] = asyncio.sleep, retries: int = RETRIES,
    ) -> None:
        if not 1 <= batch_size <= 1000:
            raise ValueError("batch size is 1 to 1000")
        self.client, self.path, self.kind = client, path, kind
        self.format = format_for(path, fmt)
        self.batch_size, self.dry_run = batch_size, dry_run
        folder = state_dir or path.parent
        self.state_path = folder / f"{path.name}.stint-import.json"
        self.errors_path = folder / f"{path.name}.errors.csv"
        self.progress, self.sleep, self.retries = progress, sleep, retries

    def _load_state(self, sha: str) -> RunState:
        fresh = RunState(sha, self.kind.value, self.batch_size)
        try:
            saved = RunState(**json.loads(self.state_path.read_text()))
        except (OSError, ValueError, TypeError):
            return fresh
        if (saved.sha256, saved.kind, saved.batch_size) != (sha, self.kind.value, self.batch_size):
            return fresh  # another file, kind or batch size: a run of its own
        if saved.completed:
            return fresh
        return saved

    def _save_state(self, state: RunState) -> None:
        temporary = self.state_path.with_suffix(".tmp")
        temporary.write_text(json.dumps(asdict(state)))
        os.replace(temporary, self.state_path)  # a crash mid-write never leaves half a state behind

    async def run(self) -> Summary:
        started = time.monotonic()
        sha = file_sha256(self.path)
        state = self._load_state(sha) if not self.dry_run else RunState(sha, self.kind.value, self.batch_size)
        resumed_from = state.batches_done
        total_bytes = self.path.stat().st_size
        read_bytes = 0

        def counted(n: int) -> None:
            nonlocal read_bytes
            read_bytes += n

        reader, stream = records(self.path, self.kind, self.format, counted)
        errors = ErrorsFile(self.errors_path, fresh=state.batches_done == 0)
        deferred_lines = set(state.deferred)
        held: list[Record] = []  # the deferred rows themselves
        try:
            for number, batch in enumerate(batches(stream, self.batch_size)):
                if number < state.batches_done:  # acknowledged in an earlier run
                    held += [record for record in batch if record.line in deferred_lines]
                    continue
                results = await self._send(state, f"{number}", batch)
                for record, result in zip(batch, results, strict=False):
                    if self._manager_not_in_yet(result):
                        held.append(record)
                        state.deferred.append(record.line)
                        continue
                    self._count(state, errors, reader.header, record, result)
                state.batches_done, state.rows_done = number + 1, state.rows_done + len(batch)
                self._checkpoint(state, errors)
                self.progress(read_bytes, total_bytes, state.rows_done)
            # People whose manager came later in the file: the managers are in now.
            for batch in batches(iter(held), self.batch_size):
                for record, result in zip(batch, await self._send(state, f"again-{batch[0].line}", batch), strict=False):
                    self._count(state, errors, reader.header, record, result)
                    state.deferred.remove(record.line)
                self._checkpoint(state, errors)
        finally:
            errors.close()
        state.completed = True
        if not self.dry_run:
            self._save_state(state)
        refused = state.counts["error"] > 0
        return Summary(state.rows_done, dict(state.counts), self.errors_path if refused else None, resumed_from,
                       time.monotonic() - started)

    def _manager_not_in_yet(self, result: dict[str, Any]) -> bool:
        problem = result.get("problem") or {}
        return self.kind is ImportKind.PEOPLE and problem.get("code") == "person.unknown_manager"

    @staticmethod
    def _count(state: RunState, errors: ErrorsFile, header: list[str] | None, record: Record, result: dict[str, Any]) -> None:
        state.counts[result["status"]] += 1
        if result["status"] == "error":
            errors.add(header, record, result["problem"])

    def _checkpoint(self, state: RunState, errors: ErrorsFile) -> None:
        """After a batch the server answered: its refused rows on disk, then how far the run got."""
        errors.flush()
        if not self.dry_run:
            self._save_state(state)

    async def _send(self, state: RunState, batch_name: str, batch: list[Record]) -> list[dict[str, Any]]:
        """Results for every record of the batch, in order: rows that are not items are refused here."""
        local = {i: _local_problem(r) for i, r in enumerate(batch) if r.problem is not None}
        items = [r.item for i, r in enumerate(batch) if i not in local]
        answered: list[dict[str, Any]] = []
        if items:
            key = f"stint-import-{state.sha256[:24]}-{self.kind.value}-{state.run_id}-b{self.batch_size}-{batch_name}"
            answered = await self._post(items, key)
        results, sent = [], iter(answered)
        for i in range(len(batch)):
            results.append({"status": "error", "problem": local[i]} if i in local else next(sent))
        return results

    async def _post(self, items: list[Any], key: str) -> list[dict[str, Any]]:
        params = {"dry_run": "true"} if self.dry_run else {}
        delay = 0.5
        response = None
        for attempt in range(self.retries + 1):
            try:
                response = await self.client.post(f"/v1/{self.kind.value}/batch", json={"items": items}, params=params,
                                                  headers={"Idempotency-Key": key})
            except httpx.TransportError as exc:
                if attempt == self.retries:
                    raise ImportAborted(f"the server could not be reached ({type(exc).__name__}); run again to resume") from exc
                await self.sleep(delay)
                delay = min(delay * 2, 30)
                continue
            if response.status_code == 200:
                return response.json()["results"]
            if response.status_code in (409, 429, 502, 503, 504) or response.status_code >= 500:
                wait = float(response.headers.get("Retry-After", delay))
                await self.sleep(min(wait, 60))
                delay = min(delay * 2, 30)
                continue
            raise ImportAborted(_describe(response))
        assert response is not None
        raise ImportAborted(f"the server kept refusing the batch; last answer: {_describe(response)}")


def _describe(response: httpx.Response) -> str:
    try:
        body = response.json()
        return f"{response.status_code} {body.get('code', '')}: {body.get('detail', '')}"
    except ValueError:
        return f"{response.status_code} {response.text[:200]}"


def _local_problem(record: Record) -> dict[str, Any]:
    column, message, type_ = record.problem  # type: ignore[misc]
    return {"status": 422, "code": "validation_failed", "detail": message,
            "errors": [{"loc": [column] if column else [], "msg": message, "type": type_}]}


class ErrorsFile:
    """Refused rows as CSV: where, why, and the row as written (so it can be fixed and sent again)."""

    def __init__(self, path: Path, *, fresh: bool) -> None:
        self.path, self.rows = path, 0
        existed = path.exists() and not fresh
        self._file = path.open("w" if not existed else "a", newline="", encoding="utf-8")
        self._writer = csv.writer(self._file)
        self._header_written = existed

    def add(self, header: list[str] | None, record: Record, problem: dict[str, Any]) -> None:
        if not self._header_written:
            self._writer.writerow(["line", "code", "fields", "detail", *(header or ["record"])])
            self._header_written = True
        self._writer.writerow([record.line, problem.get("code", ""), problem_fields(problem), problem.get("detail", ""), *record.raw])
        self.rows += 1

    def flush(self) -> None:
        self._file.flush()

    def close(self) -> None:
        self._file.close()
        if not self.rows and not self._header_written:
            self.path.unlink(missing_ok=True)
