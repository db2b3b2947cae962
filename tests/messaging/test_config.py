"""`[messaging]` as an operator writes it in TOML."""

from __future__ import annotations

import tomllib

import pytest
from pydantic import ValidationError

from gateway.messaging.config import MessagingConfig
from gateway.store.models import Category

EXAMPLE = """
brand = "Acme Energy"
price_per_segment = 0.045

[[languages]]
code = "en"
opt_out_instruction = "Text STOP to opt out"

[[languages]]
code = "de"
stop = ["STOPP", "ABMELDEN"]
start = ["START"]
help = ["HILFE"]
stop_confirmation = "{brand}: Sie wurden abgemeldet."
opt_out_instruction = "STOPP zum Abmelden"

[[quiet_hours]]
category = "marketing"
start = "20:00"
end = "09:00"

[[frequency_caps]]
category = "marketing"
max = 4
days = 30

[otp]
length = 6
ttl_s = 300
max_attempts = 5

[[templates]]
name = "callback_offer"
text = "We noticed you didn't get through today, would you like a callback? Reply YES"

[[events]]
type = "call.abandoned"
template = "callback_offer"

[[rules]]
name = "callback"
match = { keyword = ["YES", "Y"], in_reply_to_template = "callback_offer" }
actions = { event = "callback.requested", reply = "Thanks, we will call you back shortly." }

[[rules]]
name = "survey"
match = { regex = "^\\\\s*[1-5]\\\\s*$", in_reply_to_template = "survey" }
actions = { survey = true, reply = "Thank you for your feedback!" }
"""


def test_the_documented_example_loads() -> None:
    config = MessagingConfig.model_validate(tomllib.loads(EXAMPLE))
    quiet = config.quiet(Category.MARKETING)
    assert quiet is not None and quiet.start == "20:00"
    assert config.texts_for("de").stop == ["STOPP", "ABMELDEN"]
    assert config.texts_for("fr").opt_out_instruction == "Text STOP to opt out"
    binding = config.binding("call.abandoned")
    assert binding is not None and binding.template == "callback_offer"
    assert [r.name for r in config.rules] == ["callback", "survey"]


@pytest.mark.parametrize("bad", [
    {"quiet_hours": [{"category": "marketing", "start": "25:00"}]},
    {"quiet_hours": [{"category": "marketing"}, {"category": "marketing"}]},
    {"default_time_zone": "Mars/Olympus"},
    {"rules": [{"name": "x", "match": {}}]},
    {"rules": [{"name": "x", "match": {"regex": "("}}]},
    {"events": [{"type": "NoDots", "template": "t"}]},
    {"unknown": 1},
    {"default_language": "fr"},
])
def test_mistakes_are_refused(bad: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        MessagingConfig.model_validate(bad)
