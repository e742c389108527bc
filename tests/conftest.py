import sys
from pathlib import Path

# tests import their helpers (toolkit.py) directly
sys.path.insert(0, str(Path(__file__).parent))
