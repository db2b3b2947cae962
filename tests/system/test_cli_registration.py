"""`smsgw install`, `smsgw doctor` and `smsgw backup` are on the one command line."""

from __future__ import annotations

from gateway.cli import build_parser


def test_the_system_commands_are_registered() -> None:
    parser = build_parser()
    for argv in (["install", "--root", "/tmp/x"], ["doctor"], ["backup", "/tmp/x.db"]):
        args = parser.parse_args(argv)
        assert callable(getattr(args, "func", None)), argv
