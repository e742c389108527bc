import os
import sys
from pathlib import Path

# tests import their helpers (toolkit.py) directly
sys.path.insert(0, str(Path(__file__).parent))
# the simulator and the benchmarks live in the checkout's tools/, not in the installed
# package; commands the tests start (imtfusion simulate/benchmark) find them there too
TOOLS = Path(__file__).resolve().parents[1] / "tools"
sys.path.insert(0, str(TOOLS))
os.environ.setdefault("IMTFUSION_TOOLS", str(TOOLS))
