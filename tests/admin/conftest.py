"""The admin tests share admin_helpers.py; make it importable whatever pytest's import mode."""

import sys
from pathlib import Path

if str(Path(__file__).parent) not in sys.path:
    sys.path.insert(0, str(Path(__file__).parent))
