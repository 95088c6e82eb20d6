"""Before serving: a port another program holds is said plainly, with the option that picks another."""
from __future__ import annotations

import socket

import typer


def ensure_free(host: str, port: int, command: str) -> None:
    """Exit with a clear message when ``host:port`` cannot be listened on."""
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            typer.echo(f"无法在 {host}:{port} 上启动：端口已被占用或不可用（{exc.strerror}）。"
                       f"请用 --port 换一个端口，例如：{command} --port {port + 1}", err=True)
            raise typer.Exit(1) from exc
