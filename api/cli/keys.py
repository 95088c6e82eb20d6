"""``kaoping rotate-key``: a new token-signing key in the key file (every session and token ends)."""
from __future__ import annotations

import secrets
from pathlib import Path

import typer
from sqlmodel import Session

from engine.people import accounts
from engine.store.config import settings
from engine.store.db import make_engine


def rotate_key() -> None:
    """换一把新的签名密钥（写入 KAOPING_SECRET_KEY_FILE，权限 0600）；所有登录与令牌随之失效，请重启服务。"""
    if settings().secret_key:
        typer.echo("KAOPING_SECRET_KEY 已设置：请改为新值（如 python -c 'import secrets; print(secrets.token_urlsafe(48))'）"
                   "后重启服务。", err=True)
        raise typer.Exit(1)
    path = Path(settings().secret_key_file)
    accounts.write_key_file(path, secrets.token_urlsafe(48))
    bind = make_engine()
    try:
        with Session(bind) as session:
            key = accounts.signing_key(session)  # records the new fingerprint
    finally:
        bind.dispose()
    typer.echo(f"已写入新密钥：{path}（指纹 {accounts.fingerprint(key)}）。请重启 kaoping serve 与 kaoping worker。")
