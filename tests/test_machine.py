"""helpers.machine: the processor, its cores and vector units, read without Keras."""

import re
import subprocess
import sys

from helpers import machine


def test_the_machine_named_with_run_times_says_which_vector_units_it_has():
    """One processor name ('AMD EPYC') covers machines that train several times faster than each other:
    with bfloat16 units or without. The widest units win; a CPU with none of these says nothing more."""
    assert machine.vector_units({"sse4_2", "avx2", "avx512f", "avx512_bf16", "amx_bf16"}) == "AMX"
    assert machine.vector_units({"avx2", "avx512f", "avx512_bf16"}) == "AVX-512 + bfloat16"
    assert machine.vector_units({"avx2", "avx512f"}) == "AVX-512"
    assert machine.vector_units({"sse4_2", "avx2"}) == "AVX2"
    assert machine.vector_units({"neon"}) == ""
    assert re.fullmatch(r".+, \d+ cores(, (AMX|AVX-512 \+ bfloat16|AVX-512|AVX2))?", machine.describe())
    assert machine.has_bfloat16_units({"avx2", "avx512f", "avx512_bf16"})
    assert not machine.has_bfloat16_units({"avx2", "avx512f"})


def test_reading_the_machine_imports_no_keras():
    """The notebooks' runner names the machine, and it must not pay Keras' and TensorFlow's import for that."""
    code = "import sys; from helpers import machine; machine.describe(); print('keras' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stdout.strip() == "False"
