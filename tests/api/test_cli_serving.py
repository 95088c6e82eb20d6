"""Serving from the command line: a taken port is said plainly, naming --port; the demo says what it does."""
from __future__ import annotations

import socket

from tests.api.test_cli import _process, _run


def test_a_taken_port_names_the_option_that_picks_another(tmp_path):
    """In processes of their own: what a person sees in the shell when the port is taken."""
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        for command in ("serve", "demo"):
            done = _process(tmp_path, command, "--port", str(port))
            assert done.returncode == 1, done.stdout + done.stderr
            assert f"127.0.0.1:{port}" in done.stderr and f"kaoping {command} --port {port + 1}" in done.stderr
            assert "Traceback" not in done.stderr
    assert not (tmp_path / "cli.db").exists()  # refused before setting anything up


def test_the_demo_prints_its_progress(tmp_path):
    done = _run(tmp_path, "demo", "--no-serve")
    assert done.returncode == 0, done.stderr
    steps = [done.stdout.index(f"{i}/4") for i in range(1, 5)]
    assert steps == sorted(steps) and steps[-1] < done.stdout.index("数据库：")
