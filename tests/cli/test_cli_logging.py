"""Token redaction in the CLI's stderr logging: known secrets and token-shaped values, in messages, args, tracebacks."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from plexm8.cli.logs import MASK, RedactingFilter, configure_logging

TOKEN = "s3cr3t-T0KEN-xyz"


@pytest.fixture
def log(capsys: pytest.CaptureFixture[str]) -> Iterator[logging.Logger]:
    redactor = RedactingFilter([TOKEN, None, ""])
    handler = configure_logging("DEBUG", redactor)
    yield logging.getLogger("plexm8.test")
    logging.getLogger().removeHandler(handler)


def test_token_in_message_and_args_is_masked(log: logging.Logger, capsys: pytest.CaptureFixture[str]) -> None:
    log.info("token %s and %r in args", TOKEN, {"t": TOKEN})
    log.warning(f"token {TOKEN} in the message")
    err = capsys.readouterr().err
    assert TOKEN not in err
    assert err.count(MASK) == 3


def test_token_shapes_are_masked_even_when_unknown(log: logging.Logger, capsys: pytest.CaptureFixture[str]) -> None:
    log.info("GET http://plex:32400/library?X-Plex-Token=unknownTok123&type=10")
    log.info("header Authorization: Bearer otherTok456")
    err = capsys.readouterr().err
    assert "unknownTok123" not in err and "otherTok456" not in err
    assert "X-Plex-Token=<redacted>&type=10" in err
    assert "Bearer <redacted>" in err


def test_token_in_a_traceback_is_masked(log: logging.Logger, capsys: pytest.CaptureFixture[str]) -> None:
    try:
        raise ValueError(f"bad url http://plex/?X-Plex-Token={TOKEN}")
    except ValueError:
        log.exception("request failed")
    err = capsys.readouterr().err
    assert "Traceback" in err and "ValueError" in err
    assert TOKEN not in err


def test_secrets_added_later_are_masked(capsys: pytest.CaptureFixture[str]) -> None:
    redactor = RedactingFilter()
    handler = configure_logging("INFO", redactor)
    try:
        redactor.add_secret("later-token")
        logging.getLogger("plexm8.test").info("using later-token now")
    finally:
        logging.getLogger().removeHandler(handler)
    assert "later-token" not in capsys.readouterr().err


def test_configuring_twice_does_not_duplicate_lines(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("INFO", RedactingFilter())
    handler = configure_logging("INFO", RedactingFilter())
    try:
        logging.getLogger("plexm8.test").info("once")
    finally:
        logging.getLogger().removeHandler(handler)
    assert capsys.readouterr().err.count("once") == 1
