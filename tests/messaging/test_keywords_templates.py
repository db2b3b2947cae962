"""Keywords (whole message, case and punctuation insensitive) and safe templates."""

from __future__ import annotations

from datetime import date

import pytest

from gateway.messaging.config import Language, MessagingConfig
from gateway.messaging.keywords import KeywordKind, Keywords, mentions_opt_out
from gateway.messaging.templates import TemplateError, compile_template, render


@pytest.mark.parametrize("text", ["STOP", "stop", "Stop.", " STOP ", "stop!!", "StopAll",
                                  "unsubscribe", "Cancel", "END", "quit", "REVOKE", "OPT OUT",
                                  "opt-out", "Opt  Out!", "ＳＴＯＰ"])
def test_every_opt_out_keyword_is_recognised(text: str) -> None:
    hit = Keywords(MessagingConfig()).match(text)
    assert hit is not None and hit.kind is KeywordKind.STOP


@pytest.mark.parametrize("text", ["stop sending me offers", "please stop", "STOPP", "",
                                  "unstoppable", "s t o p x"])
def test_only_the_whole_message_is_a_keyword(text: str) -> None:
    hit = Keywords(MessagingConfig()).match(text)
    assert hit is None or hit.kind is not KeywordKind.STOP


def test_start_help_and_languages() -> None:
    config = MessagingConfig(languages=[
        Language(code="en", stop=["STOP"], start=["START", "YES"], help=["HELP"]),
        Language(code="de", stop=["STOPP", "ABMELDEN"], start=["START"], help=["HILFE"]),
    ])
    kw = Keywords(config)
    assert kw.match("yes").kind is KeywordKind.START  # type: ignore[union-attr]
    assert kw.match("Hilfe").kind is KeywordKind.HELP  # type: ignore[union-attr]
    hit = kw.match("abmelden!")
    assert hit is not None and hit.kind is KeywordKind.STOP and hit.languages == ("de",)
    assert kw.match("start").languages == ("en", "de")  # type: ignore[union-attr]


def test_opt_out_instruction_detection() -> None:
    assert mentions_opt_out("Sale today! Reply STOP to opt out", "Reply STOP to opt out",
                            ["STOP"])
    assert mentions_opt_out("Sale today. reply stop to end", "Reply STOP to opt out", ["STOP"])
    assert not mentions_opt_out("Stop by our shop today", "Reply STOP to opt out", ["STOP"])


def test_template_fields_dates_and_filters() -> None:
    text = render("Hi {first_name}, your appointment is on {date:%d %b} at {time}. "
                  "Account {account|last4}, balance {amount:.2f}",
                  {"first_name": "Ann", "date": "2025-04-03", "time": "10:30",
                   "account": "DE44 5001 0517 5407 3249 31", "amount": "12.5"})
    assert text == ("Hi Ann, your appointment is on 03 Apr at 10:30. Account ending in 4931, "
                    "balance 12.50")
    assert render("{d:%A}", {"d": date(2025, 3, 10)}) == "Monday"


def test_a_missing_field_is_an_error_never_an_empty_string() -> None:
    with pytest.raises(TemplateError) as caught:
        render("Hi {first_name} {last_name}", {"first_name": "Ann", "last_name": " "})
    assert caught.value.missing == ("last_name",)


@pytest.mark.parametrize("source", [
    "{user.__class__}", "{items[0]}", "{name!r}", "{0}", "{}", "{name|evil}",
    "{name:{width}}", "{amount:%s%s%s%s%s%s%s%s%s%s%s%s%s%s%s%s%s%s%s%s%s}", "unclosed {",
])
def test_templates_never_evaluate_anything(source: str) -> None:
    with pytest.raises(TemplateError):
        compile_template(source)


def test_braces_can_be_written() -> None:
    assert render("{{literal}} {x}", {"x": 1}) == "{literal} 1"
