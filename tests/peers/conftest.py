"""Real third-party SMS clients against the simulator: the proof that it behaves like hardware."""



from __future__ import annotations

import sys
from pathlib import Path

# tests/conftest.py puts tests/ on sys.path, where tests/sim and tests/drivers would shadow the
# real packages as namespace packages; the repository root first keeps the imports right.
_ROOT = str(Path(__file__).resolve().parents[2])
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)
