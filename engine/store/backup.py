"""Backups: one archive holding the database, the evidence files and a manifest (``kaoping backup``).

Consistent while the server runs. A SQLite database is copied with SQLite's online backup API,
which reads one consistent state of the whole file while other processes go on writing (a plain
copy of a live file is not: it can mix pages of different moments, head included, and still look
whole). A PostgreSQL database is dumped with ``pg_dump`` inside a transaction whose snapshot it
shares (``--snapshot``), and the manifest is read in that same snapshot, so that its counts, chain
length and last hash describe exactly what was dumped.

The archive is a gzip'd tar: ``manifest.json``, ``database.sqlite3`` or ``database.pgdump``, and
``files/<stored name>`` for every evidence file the database names. :func:`load` puts one back;
the chain check that ends a restore is the audit wing's (:mod:`engine.audit.restore`).
"""
from __future__ import annotations

import json
import os
import secrets
import shutil
import sqlite3
import subprocess
import tarfile
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from importlib import metadata
from pathlib import Path, PurePosixPath

import sqlalchemy as sa
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection, make_url

from engine.calendar import clock
from engine.store import schema
from engine.store.db import make_engine, normalise_url
from engine.store.errors import BackupRefused
from engine.store.digests import file_sha256

FORMAT = 1
MANIFEST = "manifest.json"
DATABASE = {"sqlite": "database.sqlite3", "postgresql": "database.pgdump"}
FILES = "files"
#: Tables whose rows do not make a database "not empty" (what ``kaoping init`` and a first start write).
BOOKKEEPING = {"alembic_version", "chainhead", "setting"}


@dataclass(frozen=True)
class Manifest:
    """What a backup holds: enough to tell, after a restore, that all of it came back."""

    dialect: str
    revision: str | None
    chain_count: int
    chain_last_hash: str
    counts: dict[str, int]
    files: dict[str, str] = field(default_factory=dict)  # stored name → SHA-256
    missing_files: list[str] = field(default_factory=list)  # named by the database, absent from the folder
    created_at: str = ""
    version: str = ""
    format: int = FORMAT

    def to_json(self) -> bytes:
        return json.dumps(asdict(self), ensure_ascii=False, indent=2, sort_keys=True).encode("utf-8")

    @classmethod
    def from_json(cls, data: bytes) -> Manifest:
        fields = json.loads(data)
        if fields.get("format") != FORMAT:
            raise BackupRefused(f"备份格式 {fields.get('format')} 不受支持（本版本读取格式 {FORMAT}）")
        return cls(**{k: v for k, v in fields.items() if k in cls.__dataclass_fields__})


def _dialect(url: str) -> str:
    return make_url(normalise_url(url)).get_backend_name()


def _kaoping_version() -> str:
    try:
        return metadata.version("kaoping")
    except metadata.PackageNotFoundError:
        return "unknown"


def describe(connection: Connection) -> dict:
    """Revision, chain head and row counts per table, as ``connection`` sees the database now."""
    names = sa.inspect(connection).get_table_names()
    counts = {name: connection.execute(sa.select(sa.func.count()).select_from(sa.table(name))).scalar_one()
              for name in sorted(names) if name != "alembic_version"}
    revision = (connection.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()
                if "alembic_version" in names else None)
    # Every chain's records, and the newest record's hash (the head that moved last).
    head = (connection.execute(sa.text(
        "SELECT (SELECT coalesce(sum(count), 0) FROM chainhead), "
        "(SELECT last_hash FROM chainhead ORDER BY last_id DESC LIMIT 1)")).first()
        if "chainhead" in names else None)
    stored = (list(connection.execute(sa.text("SELECT stored_as FROM evidence")).scalars())
              if "evidence" in names else [])
    return {"revision": revision, "chain_count": head[0] if head else 0, "chain_last_hash": (head[1] or "") if head else "",
            "counts": counts, "stored": stored}


def create(*, url: str, path: Path, files_dir: Path) -> Manifest:
    """Write a backup of the database at ``url`` and its evidence files to ``path`` (replaced whole)."""
    dialect = _dialect(url)
    if dialect not in DATABASE:
        raise BackupRefused(f"不支持备份 {dialect} 数据库")
    path = Path(path)
    with tempfile.TemporaryDirectory(prefix="kaoping-backup-") as work:
        dump = Path(work) / DATABASE[dialect]
        described = _sqlite_copy(url, dump) if dialect == "sqlite" else _pg_dump(url, dump)
        files, missing = {}, []
        for name in described.pop("stored"):
            source = _inside(Path(files_dir), name)
            if source.is_file():
                files[name] = file_sha256(source)
            else:
                missing.append(name)
        manifest = Manifest(dialect=dialect, **described, files=files, missing_files=sorted(missing),
                            created_at=clock.now().isoformat(timespec="seconds"), version=_kaoping_version())
        partial = path.with_name(path.name + ".partial")
        with tarfile.open(partial, "w:gz") as archive:
            _add_bytes(archive, MANIFEST, manifest.to_json())
            archive.add(dump, arcname=DATABASE[dialect])
            for name in files:
                archive.add(_inside(Path(files_dir), name), arcname=f"{FILES}/{name}")
        os.replace(partial, path)
    return manifest


def _sqlite_file(url: str) -> Path:
    database = make_url(url).database
    if not database or database == ":memory:":
        raise BackupRefused("内存中的 SQLite 数据库无法备份")
    return Path(database)


def _sqlite_copy(url: str, dump: Path) -> dict:
    live = _sqlite_file(url)
    if not live.is_file():
        raise BackupRefused(f"数据库文件不存在：{live}")
    source, target = sqlite3.connect(live, timeout=60), sqlite3.connect(dump)
    try:
        source.backup(target)  # all pages in one step: one consistent state, writers carry on (WAL)
        target.execute("PRAGMA journal_mode=DELETE")  # the copy is one self-contained file
    finally:
        source.close()
        target.close()
    bind = make_engine(f"sqlite:///{dump}")
    try:
        with bind.connect() as connection:
            return describe(connection)
    finally:
        bind.dispose()


def _tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise BackupRefused(f"找不到 {name}：备份和恢复 PostgreSQL 数据库需要它（Debian：apt-get install postgresql-client，"
                            "版本不低于服务器）", tool=name)
    return found


def _libpq(url: str) -> tuple[str, dict[str, str]]:
    """A libpq connection URI for the PostgreSQL tools, the password passed in the environment, not argv."""
    parsed = make_url(normalise_url(url))
    env = dict(os.environ)
    if parsed.password is not None:
        env["PGPASSWORD"] = str(parsed.password)
    return parsed.set(drivername="postgresql", password=None).render_as_string(hide_password=False), env


def _run(argv: list[str], env: dict[str, str]) -> None:
    done = subprocess.run(argv, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise BackupRefused(f"{Path(argv[0]).name} 失败（退出码 {done.returncode}）：{done.stderr.strip()[-2000:]}")


def _pg_dump(url: str, dump: Path) -> dict:
    tool = _tool("pg_dump")
    dsn, env = _libpq(url)
    bind = make_engine(url)
    try:
        with bind.connect().execution_options(isolation_level="REPEATABLE READ") as connection, connection.begin():
            # The first statement fixes the transaction's snapshot; pg_dump reads the same one.
            snapshot = connection.execute(sa.text("SELECT pg_export_snapshot()")).scalar_one()
            described = describe(connection)
            _run([tool, "--format=custom", "--no-owner", "--no-privileges", f"--snapshot={snapshot}",
                  f"--file={dump}", f"--dbname={dsn}"], env)
    finally:
        bind.dispose()
    return described




def _inside(folder: Path, name: str) -> Path:
    """``folder/name`` for a stored name, refusing any name that would lead out of the folder."""
    relative = PurePosixPath(name)
    if not name or relative.is_absolute() or ".." in relative.parts or "\\" in name:
        raise BackupRefused(f"文件名不安全：{name!r}")
    return folder / relative


def _add_bytes(archive: tarfile.TarFile, name: str, data: bytes) -> None:
    import io

    info = tarfile.TarInfo(name)
    info.size, info.mtime, info.mode = len(data), int(clock.now().timestamp()), 0o644
    archive.addfile(info, io.BytesIO(data))


# ------------------------------------------------------------------ restore


def read_manifest(path: Path) -> Manifest:
    """The manifest of the backup at ``path``."""
    try:
        with tarfile.open(path, "r:gz") as archive:
            member = archive.getmember(MANIFEST)
            return Manifest.from_json(archive.extractfile(member).read())
    except (tarfile.TarError, KeyError, OSError, ValueError, TypeError, AttributeError) as exc:
        raise BackupRefused(f"{path} 不是 kaoping 备份文件：{exc}") from exc


def is_empty(url: str) -> bool:
    """Whether the database holds nothing of a bureau's (no schema, or only what ``kaoping init`` writes)."""
    bind = make_engine(url)
    try:
        with bind.connect() as connection:
            counts = describe(connection)
    finally:
        bind.dispose()
    return counts["chain_count"] == 0 and not any(n for t, n in counts["counts"].items() if t not in BOOKKEEPING)


def load(*, path: Path, url: str, files_dir: Path, force: bool = False) -> Manifest:
    """Put the backup at ``path`` into the database at ``url`` and its files into ``files_dir``; upgrade the schema.

    Refuses a backup of another kind of database, one from a newer schema than this version
    knows, and a database that holds data unless ``force``. The caller checks the chain.
    """
    manifest = read_manifest(path)
    dialect = _dialect(url)
    if manifest.dialect != dialect:
        raise BackupRefused(f"这是 {manifest.dialect} 数据库的备份，不能恢复到 {dialect} 数据库")
    known = [r.revision for r in ScriptDirectory.from_config(schema.alembic_config(url)).walk_revisions()]
    if manifest.revision not in known:
        raise BackupRefused(f"备份的数据库结构（修订 {manifest.revision}）比本版本（最新修订 {known[0]}）新："
                            f"请先升级 kaoping 到 {manifest.version} 或更新的版本", revision=manifest.revision)
    for name in manifest.files:
        _inside(Path(files_dir), name)
    if dialect == "postgresql":
        _tool("pg_restore")  # before anything is touched
    if not force and not is_empty(url):
        raise BackupRefused("目标数据库已有数据：确认要用备份覆盖它时请加 --force")
    with tempfile.TemporaryDirectory(prefix="kaoping-restore-") as work, tarfile.open(path, "r:gz") as archive:
        dump = Path(work) / DATABASE[dialect]
        _extract(archive, DATABASE[dialect], dump)
        if dialect == "sqlite":
            _sqlite_load(dump, url)
        else:
            _pg_load(dump, url)
        for name, sha256 in manifest.files.items():
            target = _inside(Path(files_dir), name)
            target.parent.mkdir(parents=True, exist_ok=True)
            _extract(archive, f"{FILES}/{name}", target)
            if file_sha256(target) != sha256:
                raise BackupRefused(f"证据文件 {name} 与备份清单的哈希不符")
    schema.upgrade(url)
    return manifest


def _extract(archive: tarfile.TarFile, member: str, target: Path) -> None:
    """Copy one regular member's bytes to ``target`` (never extracting by the archive's own paths)."""
    try:
        info = archive.getmember(member)
    except KeyError as exc:
        raise BackupRefused(f"备份文件缺少 {member}") from exc
    if not info.isfile():
        raise BackupRefused(f"备份中的 {member} 不是普通文件")
    with archive.extractfile(info) as source, target.open("wb") as out:
        shutil.copyfileobj(source, out)


def _sqlite_load(dump: Path, url: str) -> None:
    live = _sqlite_file(url)
    live.parent.mkdir(parents=True, exist_ok=True)
    source, target = sqlite3.connect(dump), sqlite3.connect(live, timeout=60)
    try:
        source.backup(target)  # replaces every page of the target, under its write lock
    finally:
        source.close()
        target.close()


def _pg_load(dump: Path, url: str) -> None:
    tool = _tool("pg_restore")
    bind = make_engine(url)
    try:
        with bind.begin() as connection:  # what is there goes: the backup's schema and rows replace it
            existing = sa.MetaData()
            existing.reflect(connection)
            existing.drop_all(connection)
    finally:
        bind.dispose()
    dsn, env = _libpq(url)
    _run([tool, "--no-owner", "--no-privileges", "--exit-on-error", "--single-transaction",
          f"--dbname={dsn}", str(dump)], env)


@contextmanager
def throwaway_copy(url: str) -> Iterator[str]:
    """A consistent copy of the database at ``url`` to write to freely (a simulation), dropped afterwards.

    SQLite: the online backup into a temporary file. PostgreSQL: ``pg_dump`` of one snapshot restored
    into a new database beside it (``<name>_copy_<random>``), dropped at the end. The live database is
    only read."""
    with tempfile.TemporaryDirectory(prefix="kaoping-copy-") as folder:
        if _dialect(url) == "sqlite":
            path = Path(folder) / "copy.sqlite3"
            _sqlite_copy(url, path)
            yield f"sqlite:///{path}"
            return
        dump = Path(folder) / "copy.pgdump"
        _pg_dump(url, dump)
        live = make_url(normalise_url(url))
        name = f"{live.database}_copy_{secrets.token_hex(4)}"
        admin = make_engine(live.render_as_string(hide_password=False), isolation_level="AUTOCOMMIT")
        try:
            with admin.connect() as connection:
                connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
            copy = live.set(database=name).render_as_string(hide_password=False)
            try:
                _pg_load(dump, copy)
                yield copy
            finally:
                with admin.connect() as connection:
                    connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        finally:
            admin.dispose()
