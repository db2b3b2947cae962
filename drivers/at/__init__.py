"""The AT command layer: framing, URC routing, the channel and the command table."""
