"""Admin input: names cleaned (NFKC, no zero-width), confusable duplicates refused, e-mail addresses checked."""
from __future__ import annotations

import pytest
from sqlmodel import Session, select

from engine.people import users
from engine.store.errors import Duplicate, InvalidPayload
from engine.store.models import Section, User


@pytest.mark.parametrize("twin", ["绩\u200b效办", "\ufeff绩效办\u200d", "绩效办\u2060", " 绩效办 "])
def test_a_second_office_hidden_by_invisible_characters_is_refused(session, twin):
    users.add(session=session, name="绩效办", roles=["office"])
    session.commit()
    with pytest.raises(Duplicate):
        users.add(session=session, name=twin, roles=["office"])


def test_look_alike_letters_and_full_width_forms_are_confusable(session):
    users.add(session=session, name="admin", roles=["admin"])
    users.add(session=session, name="规划科员", roles=["staff"], sections=["规划科\u200b"])
    session.commit()
    for twin in ("аdmin", "ＡＤＭＩＮ", "Admin"):  # Cyrillic а; full-width; another case
        with pytest.raises(Duplicate, match="难以区分"):
            users.add(session=session, name=twin, roles=["admin"])
    assert session.exec(select(Section.name)).all() == ["规划科"]  # kept clean
    with pytest.raises(Duplicate):
        users.add_section(session=session, name="规划\u200c科")
    assert users.add_section(session=session, name="规划二科").name == "规划二科"  # different names still work


def test_e_mail_addresses_are_checked_and_normalised(session):
    with pytest.raises(InvalidPayload):
        users.add(session=session, name="洪玮玮", roles=["staff"], email="not an address")
    user = users.add(session=session, name="洪玮玮", roles=["staff"], email="Hong@Example.ORG")
    session.commit()
    assert user.email == "Hong@example.org"
    with pytest.raises(InvalidPayload):
        users.update(session=session, user_id=user.id, email="a@@b")
    assert session.get(User, user.id).email == "Hong@example.org"
