"""The run's results store, ``runs/<name>/results.sqlite``: tidy rows, jobs, artifacts, meta.

- ``results``: one row per measurement (job_id, kind, model, dataset, method, metric, value),
  every hyperparameter a column of its own (added with ALTER TABLE when a new key appears),
  and provenance (device, torch_version, git_commit, seconds, finished_at).
- ``jobs``: one row per job that ran: config JSON, status ``done``/``failed``, error, seconds.
- ``artifacts``: arrays the report draws (images, probabilities) as ``.npz`` bytes.
- ``meta``: the run's suite, its job ids, device and versions.
- ``perf``: the run's timings (``auditbench perf``), one row per benchmark as
  ``bench.timing.load_benchmarks`` reads them; replaced as a whole by each perf run.

A file that is not a store (not SQLite, damaged, someone else's database; when read, an empty
one too) is refused with a ``StoreError`` naming it; ``check_store`` checks one.

Each finished job is written in one transaction (rows, artifacts and status together), so a
crash leaves a job either fully stored or absent, and a re-run neither skips nor repeats it.
"""

from __future__ import annotations

import io
import json
import math
import re
import sqlite3
from collections.abc import Iterator, Mapping
from contextlib import closing, contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from bench.spec import Job, JobOutput
from zoo.errors import UserError

FILENAME = "results.sqlite"
TABLES = ("jobs", "results", "artifacts", "meta")  # what makes a file a store (perf is optional)
CORE = ("job_id", "kind", "model", "model_label", "dataset", "method", "metric", "value")
PROVENANCE = ("device", "torch_version", "git_commit", "seconds", "finished_at")
_COLUMN = re.compile(r"^[a-z_][a-z0-9_]*$")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    job_id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    label TEXT NOT NULL,
    config TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('done', 'failed')),
    error TEXT,
    traceback TEXT,
    seconds REAL,
    finished_at TEXT
);
CREATE TABLE IF NOT EXISTS results (
    job_id TEXT NOT NULL, kind TEXT NOT NULL, model TEXT, model_label TEXT, dataset TEXT,
    method TEXT, metric TEXT NOT NULL, value REAL,
    device TEXT, torch_version TEXT, git_commit TEXT, seconds REAL, finished_at TEXT
);
CREATE INDEX IF NOT EXISTS results_by_job ON results (job_id);
CREATE TABLE IF NOT EXISTS artifacts (
    job_id TEXT NOT NULL, name TEXT NOT NULL, data BLOB NOT NULL, PRIMARY KEY (job_id, name)
);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


class StoreError(UserError):
    """A results store that is missing, damaged, or not auditbench's."""


class MissingStoreError(StoreError, FileNotFoundError):
    """No results store where one was expected."""


def db_path(run_dir: str | Path) -> Path:
    """``run_dir/results.sqlite``; a path to the file itself is accepted too."""
    path = Path(run_dir)
    return path if path.suffix == ".sqlite" else path / FILENAME


class Store:
    """Writer for one run's store. Use as a context manager, or call ``close()``."""

    def __init__(self, run_dir: str | Path) -> None:
        self.path = db_path(run_dir)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if self.path.exists() and not self.path.is_file():
            raise StoreError(f"{self.path} is not a file, so not an auditbench results store")
        # autocommit mode: transactions are opened explicitly, DDL included, so ALTER TABLE
        # rolls back with the rows it was added for
        self.conn = sqlite3.connect(self.path, isolation_level=None)
        try:
            self._check_writable_store()
            self.conn.executescript(_SCHEMA)
        except BaseException:
            self.conn.close()
            raise

    def _check_writable_store(self) -> None:
        """Refuse to write into a file that is not a store: not SQLite, or a database of
        someone else's tables. An empty file, or one with only some of the store's tables (a
        run killed while it made them), is completed."""
        try:
            tables = {row[0] for row in self.conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table'")}
        except sqlite3.DatabaseError as err:
            raise StoreError(
                f"{self.path} is not an auditbench results store, or is damaged (SQLite: "
                f"{err}); move it away or give another run directory") from None
        foreign = sorted(t for t in tables if t not in (*TABLES, "perf")
                         and not t.startswith("sqlite_"))
        if foreign:
            raise StoreError(
                f"{self.path} is not an auditbench results store (it has a table "
                f"{foreign[0]!r}); move it away or give another run directory")

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.conn.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            yield self.conn
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        self.conn.execute("COMMIT")

    def done_ids(self) -> set[str]:
        rows = self.conn.execute("SELECT job_id FROM jobs WHERE status = 'done'")
        return {r[0] for r in rows}

    def meta(self, key: str, default: object = None) -> object:
        """One value of the run's meta, ``default`` when it has none."""
        row = self.conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return default if row is None else json.loads(row[0])

    def set_meta(self, values: Mapping[str, object]) -> None:
        with self.transaction() as conn:
            conn.executemany(
                "INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)",
                [(k, json.dumps(v)) for k, v in values.items()],
            )

    def write_job(
        self, job: Job, output: JobOutput, *, seconds: float, provenance: Mapping[str, Any]
    ) -> None:
        """Store a finished job: its rows, artifacts and ``done`` status, all or nothing."""
        shared = {k: v for k, v in job.params.items() if _is_scalar(v)}
        stamp = {**provenance, "seconds": seconds}
        rows = [
            {"job_id": job.id, "kind": job.kind, **shared, **row, **stamp} for row in output.rows
        ]
        with self.transaction() as conn:
            self._clear(conn, job.id)
            self._insert_rows(conn, rows)
            self._insert_artifacts(conn, job.id, output.artifacts)
            self._set_status(conn, job, "done", None, None, seconds, provenance.get("finished_at"))

    def write_failure(
        self, job: Job, error: str, *, seconds: float, finished_at: str, traceback: str = ""
    ) -> None:
        """Record a job that raised: status ``failed``, its error, and no rows at all."""
        with self.transaction() as conn:
            self._clear(conn, job.id)
            self._set_status(conn, job, "failed", error, traceback, seconds, finished_at)

    def write_perf(self, df: pd.DataFrame) -> None:
        """Replace the run's ``perf`` table with ``df`` (one row per benchmark), all or nothing.

        List and dict values are stored as JSON text in columns declared ``JSON``, which
        ``load_perf`` parses back.
        """
        columns = [str(c) for c in df.columns]
        for name in columns:
            if not _COLUMN.match(name):
                raise ValueError(f"perf column {name!r} is not a plain lower-case name")
        types = {c: _perf_type(df[c]) for c in columns}
        rows = [[_perf_value(v) for v in row]
                for row in df.itertuples(index=False, name=None)]
        with self.transaction() as conn:
            conn.execute("DROP TABLE IF EXISTS perf")
            conn.execute("CREATE TABLE perf (" + ", ".join(
                f'"{c}" {types[c]}' for c in columns) + ")")
            if rows:
                marks = ", ".join("?" for _ in columns)
                conn.executemany(f"INSERT INTO perf VALUES ({marks})", rows)

    @staticmethod
    def _clear(conn: sqlite3.Connection, job_id: str) -> None:
        conn.execute("DELETE FROM results WHERE job_id = ?", (job_id,))
        conn.execute("DELETE FROM artifacts WHERE job_id = ?", (job_id,))

    @staticmethod
    def _set_status(
        conn: sqlite3.Connection, job: Job, status: str, error: str | None,
        traceback: str | None, seconds: float, finished_at: object,
    ) -> None:
        conn.execute(
            "INSERT OR REPLACE INTO jobs (job_id, kind, label, config, status, error, traceback,"
            " seconds, finished_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (job.id, job.kind, job.label, json.dumps(job.config, sort_keys=True), status, error,
             traceback, seconds, finished_at),
        )

    def _insert_rows(self, conn: sqlite3.Connection, rows: list[dict[str, Any]]) -> None:
        if not rows:
            return
        existing = {r[1] for r in conn.execute("PRAGMA table_info(results)")}
        for row in rows:
            if "metric" not in row or "value" not in row:
                raise ValueError(f"a result row needs 'metric' and 'value': {row}")
            for key, value in row.items():
                if key in existing:
                    continue
                if not _COLUMN.match(key):
                    raise ValueError(f"result column {key!r} is not a plain lower-case name")
                conn.execute(f'ALTER TABLE results ADD COLUMN "{key}" {_sql_type(value)}')
                existing.add(key)
        for row in rows:
            cols = ", ".join(f'"{k}"' for k in row)
            marks = ", ".join("?" for _ in row)
            values = [_sql_value(v) for v in row.values()]
            conn.execute(f"INSERT INTO results ({cols}) VALUES ({marks})", values)

    @staticmethod
    def _insert_artifacts(
        conn: sqlite3.Connection, job_id: str, artifacts: Mapping[str, Mapping[str, np.ndarray]]
    ) -> None:
        for name, arrays in artifacts.items():
            buffer = io.BytesIO()
            np.savez_compressed(buffer, **{k: np.asarray(v) for k, v in arrays.items()})
            conn.execute(
                "INSERT INTO artifacts (job_id, name, data) VALUES (?, ?, ?)",
                (job_id, name, buffer.getvalue()),
            )


def _is_scalar(value: object) -> bool:
    return isinstance(value, (bool, int, float, str))


def _sql_type(value: object) -> str:
    if isinstance(value, (bool, int, np.integer, np.bool_)):
        return "INTEGER"
    if isinstance(value, (float, np.floating)):
        return "REAL"
    return "TEXT"


def _sql_value(value: object) -> object:
    """Python/numpy/torch scalars as SQLite values; lists and dicts as JSON text."""
    if hasattr(value, "item") and getattr(value, "ndim", 0) == 0:
        value = value.item()  # numpy or torch scalar
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, float) and not math.isfinite(value):
        return None if math.isnan(value) else value
    if isinstance(value, (list, tuple, dict)):
        return json.dumps(value)
    return value


def _perf_type(column: pd.Series) -> str:
    values = column.dropna()
    if len(values) and all(isinstance(v, (list, tuple, dict)) for v in values):
        return "JSON"
    if pd.api.types.is_bool_dtype(column) or pd.api.types.is_integer_dtype(column):
        return "INTEGER"
    if pd.api.types.is_float_dtype(column):
        return "REAL"
    return "TEXT"


def _perf_value(value: object) -> object:
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return None
    return _sql_value(value)


# --- reading: pandas is the interface to results --------------------------------------------

def check_store(run_dir: str | Path) -> Path:
    """The path of ``run_dir``'s results store, refusing (``StoreError``, one line naming the
    file) a missing, empty, damaged or foreign file before anything reads it."""
    with closing(_connect_ro(run_dir)):
        return db_path(run_dir)


def _connect_ro(run_dir: str | Path) -> sqlite3.Connection:
    """A read-only connection to the store, once it is known to be one (``check_store``)."""
    path = db_path(run_dir)
    if not path.exists():
        raise MissingStoreError(f"no results store at {path} (run `auditbench run` first)")
    if not path.is_file():
        raise StoreError(f"{path} is not a file, so not an auditbench results store")
    if path.stat().st_size == 0:
        raise StoreError(f"{path} is empty (0 bytes): not an auditbench results store")
    # read-only: reading never changes a store, not even a damaged one; as_uri escapes the
    # characters (?, #, %) a URI would read as its own
    conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    try:
        tables = {row[0] for row in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table'")}
    except sqlite3.DatabaseError as err:  # "file is not a database"
        conn.close()
        raise StoreError(
            f"{path} is not an auditbench results store, or is damaged (SQLite: {err})"
        ) from None
    missing = [name for name in TABLES if name not in tables]
    if missing:
        conn.close()
        raise StoreError(
            f"{path} is not an auditbench results store: it has no {missing[0]!r} table "
            f"(a store has {', '.join(TABLES)})")
    return conn


@contextmanager
def _reading(run_dir: str | Path) -> Iterator[sqlite3.Connection]:
    """A checked read-only connection; a store damaged beyond its table list (a truncated
    file) is refused as a ``StoreError`` when a query meets the damage."""
    with closing(_connect_ro(run_dir)) as conn:
        try:
            yield conn
        except (sqlite3.DatabaseError, pd.errors.DatabaseError) as err:  # pandas wraps it
            raise StoreError(f"{db_path(run_dir)} is damaged (SQLite: {err})") from None


def load(run_dir: str | Path) -> pd.DataFrame:
    """Every stored measurement: core columns, then hyperparameters, then provenance."""
    with _reading(run_dir) as conn:
        df = pd.read_sql("SELECT * FROM results", conn)
    middle = [c for c in df.columns if c not in CORE and c not in PROVENANCE]
    return df[[*CORE, *middle, *PROVENANCE]]


def load_jobs(run_dir: str | Path) -> pd.DataFrame:
    """One row per job that ran (done or failed), with its config parsed into a dict."""
    with _reading(run_dir) as conn:
        df = pd.read_sql("SELECT * FROM jobs ORDER BY finished_at, job_id", conn)
    df["config"] = df["config"].map(json.loads)
    return df


def load_meta(run_dir: str | Path) -> dict[str, Any]:
    with _reading(run_dir) as conn:
        return {k: json.loads(v) for k, v in conn.execute("SELECT key, value FROM meta")}


def load_artifact(run_dir: str | Path, job_id: str, name: str) -> dict[str, np.ndarray]:
    with _reading(run_dir) as conn:
        row = conn.execute(
            "SELECT data FROM artifacts WHERE job_id = ? AND name = ?", (job_id, name)
        ).fetchone()
    if row is None:
        raise KeyError(f"no artifact {name!r} for job {job_id} in {db_path(run_dir)}")
    with np.load(io.BytesIO(row[0]), allow_pickle=False) as npz:
        return {k: npz[k] for k in npz.files}


def write_perf(run_dir: str | Path, df: pd.DataFrame) -> Path:
    """``Store(run_dir).write_perf(df)``, creating the store if the run has none; its path."""
    with Store(run_dir) as store:
        store.write_perf(df)
        return store.path


def load_perf(run_dir: str | Path) -> pd.DataFrame | None:
    """The run's ``perf`` table (JSON columns parsed back), or ``None`` when it has none."""
    if not db_path(run_dir).is_file():
        return None
    with _reading(run_dir) as conn:
        info = list(conn.execute("PRAGMA table_info(perf)"))
        if not info:
            return None
        df = pd.read_sql("SELECT * FROM perf", conn)
    for _, name, declared, *_ in info:
        if declared == "JSON":
            df[name] = df[name].map(lambda v: json.loads(v) if isinstance(v, str) else v)
    return df
