"""schemathesis, in its own process, against the running gateway's `/openapi.json`: generated
valid and invalid requests for every operation, a bounded number each. No answer may be a
5xx, and every answer must match the documented status codes, content types and schemas."""
from __future__ import annotations

import asyncio
import base64
import os
import sys
from pathlib import Path

from tests.api.apirig import ApiRig

MAX_EXAMPLES = int(os.environ.get("SMSGW_SCHEMATHESIS_EXAMPLES", "25"))
BIN = Path(sys.executable).parent / "schemathesis"
# 413 is a correct way to refuse an oversized (and so invalid) body
CONFIG = """
[checks.negative_data_rejection]
expected-statuses = [400, 401, 403, 404, 405, 406, 409, 413, 415, 422, 428, 429]
"""
# the Twilio and Kannel routes authenticate their own way: give them the admin account
COMPAT = """
[[operations]]
include-tag = "compat"
headers = {{ Authorization = "Basic {basic}" }}
parameters = {{ "path.account" = "admin", "query.username" = "admin", "query.password" = "{key}" }}
"""


async def test_openapi_contract_holds_under_generated_requests(rig: ApiRig, tmp_path: Path
                                                               ) -> None:
    assert BIN.exists(), "schemathesis is part of the test dependencies"
    await rig.start(rate=100_000.0)
    config = tmp_path / "schemathesis.toml"
    admin = rig.keys["admin"]
    basic = base64.b64encode(f"admin:{admin}".encode()).decode()
    config.write_text(CONFIG + COMPAT.format(basic=basic, key=admin), encoding="utf-8")
    args = [
        str(BIN), "--config-file", str(config), "run", f"{rig.url}/openapi.json",
        "--header", f"Authorization: Bearer {rig.keys['admin']}",
        "--max-examples", str(MAX_EXAMPLES),
        "--checks", "all",
        "--phases", "examples,coverage,fuzzing,stateful",
        "--exclude-checks", "ignored_auth,positive_data_acceptance",
        "--seed", "1",
        "--no-color",
        "--workers", "1",
        "--generation-database", "none",
        "--suppress-health-check", "all",
        "--request-timeout", "10",
    ]
    process = await asyncio.create_subprocess_exec(
        *args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
        cwd=tmp_path, env={**os.environ, "SCHEMATHESIS_HOOKS": ""},
    )
    try:
        async with asyncio.timeout(110):
            output, _ = await process.communicate()
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    text = output.decode(errors="replace")
    assert process.returncode == 0, text[-6000:]
    assert "No issues found" in text or "passed" in text.lower(), text[-3000:]
