"""An API client on the test database, with the people of a small plan as users."""
from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from api import security
from api.app import create_app
from engine.people import users
from engine.people.actors import Actor
from engine.plans import staffing
from engine.people.accounts import signing_key
from engine.store.models import User
from tests import factories as f
from tests.api.db_copies import Copies, DemoCopies

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
PASSWORD = "correct-horse-9"
PEOPLE = {
    "洪玮玮": (["staff"], ["规划科"]),
    "陈华森": (["staff"], ["思政科"]),
    "林长华": (["leader"], []),
    "李自坚": (["leader"], []),
    "绩效办": (["office"], []),
    "审计员": (["auditor"], []),
    "管理员": (["admin"], []),
}


@pytest.fixture(scope="session")
def copies(tmp_path_factory, _sqlite_template) -> Copies:
    """Databases set up once per test process, copied into a test's database."""
    return Copies(tmp_path_factory.mktemp("copies"), _sqlite_template)


@pytest.fixture(scope="session")
def demo(copies) -> DemoCopies:
    """The demo's databases, set up once per test process and copied into a test's database (``demo.put(bind)``)."""
    return DemoCopies(copies)


@pytest.fixture(scope="session")
def browser():
    """One headless Chromium per test process (Debian's), shared by the browser tests; each test opens its own
    contexts."""
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
            "--disable-component-update", "--disable-sync"])
        yield chromium
        chromium.close()


@pytest.fixture(scope="session")
def password_hash() -> str:
    return users.hash_password(PASSWORD)  # Argon2 is slow on purpose: hash once for the whole run


@pytest.fixture
def api(engine_db, password_hash, copies):
    def add_people(session: Session) -> None:
        for name, (roles, sections) in PEOPLE.items():
            user = users.add(session=session, name=name, roles=roles, sections=sections)
            user.password_hash = password_hash
            staffing.record_added(session, user, sections, by=Actor.system())
        session.commit()

    copies.put(engine_db, "people", add_people, on_postgres=False)
    with TestClient(create_app(engine_db), raise_server_exceptions=False) as client:
        yield client


def token(client: TestClient, name: str) -> dict[str, str]:
    """Authorization headers for ``name``: a token signed as the token endpoint signs them
    (logging in itself is tested in test_auth; Argon2 would make every test slow)."""
    engine = client.app.state.engine
    with Session(engine) as session:
        user = session.exec(select(User).where(User.login == name)).one()
        access, _ = security.issue(user.id, user.name, signing_key(session))
    return {"Authorization": f"Bearer {access}"}


@pytest.fixture
def two_targets(engine_db):
    """One target of 规划科 led by 林长华 (in scope), one of 思政科 led by 李自坚 (out of scope)."""
    with Session(engine_db, expire_on_commit=False) as session:
        mine = f.target(session, sections=("规划科",), leaders=("林长华",), persons=("洪玮玮",))
        theirs = f.target(session, sections=("思政科",), leaders=("李自坚",), persons=("陈华森",))
        return mine.id, theirs.id
