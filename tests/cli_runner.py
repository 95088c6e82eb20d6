"""The ``kaoping`` command line run inside the test process, as a person runs it in a shell: arguments, environment
and standard input in; exit code, standard output and standard error out.

Starting a Python process and importing the application takes seconds; the tests about what a command does run it
here instead, and the tests about the process itself (a server, a port, an exit code seen by a shell) still start
real processes. Each run sees what a new process would: the real clock (a test's frozen clock is put back
afterwards), the settings read from the environment given, no workflow definition cached by an earlier run.
"""
from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from typer.testing import CliRunner


@dataclass
class Ran:
    """What a finished command left: the shape of ``subprocess.CompletedProcess``."""

    returncode: int
    stdout: str
    stderr: str


@contextlib.contextmanager
def _environment(env: dict[str, str]) -> Iterator[None]:
    saved = {name: os.environ.get(name) for name in env}
    os.environ.update(env)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@contextlib.contextmanager
def _settings_from_environment() -> Iterator[None]:
    """The process-wide settings as a new process would read them from the environment, then back as they were."""
    from engine.store.config import Settings, settings

    current, fresh = settings(), Settings()
    saved = {name: getattr(current, name) for name in type(current).model_fields}
    for name in saved:
        setattr(current, name, getattr(fresh, name))
    try:
        yield
    finally:
        for name, value in saved.items():
            setattr(current, name, value)


def kaoping(*args: object, env: dict[str, str] | None = None, input: str | None = None,
            cwd: Path | None = None) -> Ran:
    """Run ``kaoping ARGS`` with ``env`` added to the environment (and ``cwd`` as the working directory)."""
    from api.cli.main import app
    from engine.calendar import clock
    from engine.workflow import deployments

    with contextlib.ExitStack() as stack:
        stack.enter_context(_environment(env or {}))
        if cwd is not None:
            stack.enter_context(contextlib.chdir(cwd))
        stack.enter_context(_settings_from_environment())
        stack.callback(clock.use, clock.use(clock.Clock()))  # a new process tells the real time, frozen or not here
        deployments.forget()
        stack.callback(deployments.forget)
        result = CliRunner().invoke(app, [str(a) for a in args], input=input, prog_name="kaoping")
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception  # a crash is a failure of the test, not an exit code to compare
    return Ran(result.exit_code, result.stdout, result.stderr)
