"""Log lines as journald gets them: one event per line, key=value or JSON, people redacted."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest

from gateway.cli import build_parser
from gateway.logging import configure_logging, log_event


@pytest.fixture
def capture() -> Iterator[tuple[io.StringIO, logging.Logger]]:
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    stream = io.StringIO()
    yield stream, logging.getLogger("gateway.test")
    root.handlers[:] = saved[0]
    root.setLevel(saved[1])


def test_key_value_lines_redact_numbers_and_text(
    capture: tuple[io.StringIO, logging.Logger],
) -> None:
    stream, log = capture
    configure_logging("info", stream=stream, timestamps=False)
    log_event(log, "inbound_message", sender="+4917612345678", text="my PIN is 4711",
              modem="modem0", parts="1/1", complete=True)
    log.warning("modem0: +CLIP: \"+4917612345678\",145 during send of 0791494571...")
    log.debug("not shown at info")
    lines = stream.getvalue().splitlines()
    assert len(lines) == 2
    first = lines[0]
    assert first.startswith("level=info logger=gateway.test event=inbound_message ")
    assert "sender=+***********78" in first and "text=\"<14 chars>\"" in first
    assert "modem=modem0" in first and "complete=true" in first
    assert "4917612345678" not in stream.getvalue() and "4711" not in stream.getvalue()


def test_json_lines_and_opt_out_of_redaction(
    capture: tuple[io.StringIO, logging.Logger],
) -> None:
    stream, log = capture
    configure_logging("debug", fmt="json", stream=stream, timestamps=True)
    log_event(log, "sent", level=logging.DEBUG, to="+4915112345678", parts=2)
    configure_logging("info", stream=stream, redact=False, timestamps=False)
    log_event(log, "sent", to="+4915112345678")
    json_line, plain = stream.getvalue().splitlines()
    record = json.loads(json_line)
    assert record["event"] == "sent" and record["level"] == "debug" and record["parts"] == 2
    assert record["to"] == "+***********78" and "ts" in record
    assert "to=+4915112345678" in plain  # redaction is on by default, off only when asked


def test_exceptions_stay_on_one_line(capture: tuple[io.StringIO, logging.Logger]) -> None:
    stream, log = capture
    configure_logging("info", stream=stream, timestamps=False)
    try:
        raise ValueError("bad number +4915112345678")
    except ValueError:
        log.exception("submit failed")
    (line,) = stream.getvalue().splitlines()
    assert "Traceback" in line and "ValueError" in line
    assert "4915112345678" not in line


def test_smsgw_cli_has_the_run_command() -> None:
    parser = build_parser()
    args = parser.parse_args(["run", "--sim", "2", "--modem", "/dev/a", "/dev/b", "--log-json"])
    assert args.sim == 2 and args.modem == ["/dev/a", "/dev/b"] and args.log_json
    assert callable(args.func)
