"""The PDK (cells, layers, model table) loads and activates with jax and sax unavailable.

jax is imported only when a sax model is called; ``optinc build`` draws layouts and never calls one.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

BLOCK = "import sys; sys.modules['jax'] = None; sys.modules['sax'] = None\n"


def run_blocked(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", BLOCK + textwrap.dedent(code)], capture_output=True, text=True,
                          timeout=300)


def test_pdk_imports_and_activates_without_jax_or_sax():
    done = run_blocked("""
        import optinc_pdk.pdk
        from optinc_pdk.pdk import activate_pdk
        pdk = activate_pdk()
        from optinc_pdk.pdk.models import MODELS
        assert set(MODELS) <= set(pdk.models), sorted(set(MODELS) - set(pdk.models))
        assert "jax" not in {name.split(".")[0] for name, module in sys.modules.items() if module is not None}
        try:
            MODELS["mzi2x2"](theta=0.1, phi=0.2)
        except ImportError:
            print("model call needs jax: ok")
        else:
            raise SystemExit("a model ran with jax blocked")
    """)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "model call needs jax: ok" in done.stdout


def test_a_small_layout_draws_without_jax_or_sax(tmp_path):
    done = run_blocked(f"""
        sys.path.insert(0, {str(Path(__file__).parent)!r})
        from test_circuit_helpers import tiny_scenario
        from optinc_pdk.circuit import build_description
        from optinc_pdk.circuit.random_weights import random_weights
        from optinc_pdk.layout import write_layout
        from optinc_pdk.pdk import activate_pdk
        activate_pdk()
        scenario = tiny_scenario()
        result = write_layout(build_description(scenario, random_weights(scenario, 1)), {str(tmp_path)!r}, png=False)
        assert result.mzis == result.expected_mzis
        print("layout ok", result.mzis)
    """)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "layout ok" in done.stdout
