"""Real third-party SMS clients (gammu, python-gsmmodem-new) against the simulator."""
