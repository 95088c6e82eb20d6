"""The signing key lives in a file (0600), never in the database, which keeps only its fingerprint."""
from __future__ import annotations

import stat
from pathlib import Path

from sqlmodel import Session, select

from engine.people import accounts
from engine.store.config import settings
from engine.store.models import Setting


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _settings(engine_db) -> dict[str, str]:
    with Session(engine_db) as session:
        return {s.key: s.value for s in session.exec(select(Setting))}


def test_a_fresh_install_creates_a_private_key_file_and_keeps_only_a_fingerprint(engine_db):
    path = Path(settings().secret_key_file)
    with Session(engine_db) as session:
        key = accounts.signing_key(session)
    assert path.read_text().strip() == key and _mode(path) == 0o600
    stored = _settings(engine_db)
    assert "secret_key" not in stored and key not in stored.values()
    assert stored["secret_key_fingerprint"] == accounts.fingerprint(key)
    with Session(engine_db) as session:
        assert accounts.signing_key(session) == key  # the same key from then on


def test_an_older_install_moves_its_key_out_of_the_database(engine_db):
    with Session(engine_db) as session:
        session.add(Setting(key="secret_key", value="key-from-an-older-version"))
        session.commit()
        assert accounts.signing_key(session) == "key-from-an-older-version"  # existing sessions stay valid
    assert Path(settings().secret_key_file).read_text().strip() == "key-from-an-older-version"
    assert _settings(engine_db) == {"secret_key_fingerprint": accounts.fingerprint("key-from-an-older-version")}


def test_a_rotated_key_file_is_recorded_anew(engine_db):
    with Session(engine_db) as session:
        first = accounts.signing_key(session)
        accounts.write_key_file(Path(settings().secret_key_file), "a-new-key-after-rotation")
        assert accounts.signing_key(session) == "a-new-key-after-rotation" != first
    assert _settings(engine_db)["secret_key_fingerprint"] == accounts.fingerprint("a-new-key-after-rotation")
    assert _mode(Path(settings().secret_key_file)) == 0o600


def test_database_and_evidence_files_are_private(tmp_path, monkeypatch):
    from engine.store import schema
    from engine.workflow import evidence

    schema.upgrade(f"sqlite:///{tmp_path / 'fresh.db'}")
    assert _mode(tmp_path / "fresh.db") == 0o600
    monkeypatch.setattr(settings(), "files_dir", str(tmp_path / "files"))
    folder = evidence._folder()
    evidence._write_private(folder / "x.pdf", b"%PDF")
    assert _mode(folder) == 0o700 and _mode(folder / "x.pdf") == 0o600
