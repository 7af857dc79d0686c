"""attncli.blas: the OpenBLAS core type chosen from the CPU (issue 15), and that it changes no result.

The decision is tested on /proc/cpuinfo texts of CPUs this machine is not (written out below from what Linux
prints for them); the subprocess tests check that the CLI sets the kernels it says, by asking OpenBLAS itself
(OPENBLAS_VERBOSE=2 makes it print "Core: NAME" as it loads), and that compute and model golden cases agree
with their references, and with each other, under every core type this CPU can run. Speeds are measured by
tests/bench_blas.py, never here.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from cli_helpers import run

from attncli import blas

HERE = Path(__file__).resolve().parent


def cpuinfo(vendor: str, family: int, model: int, flags: str, name: str = "") -> str:
    """One processor's block as x86 Linux prints it (the fields attncli reads and some it does not)."""
    return (f"processor\t: 0\nvendor_id\t: {vendor}\ncpu family\t: {family}\nmodel\t\t: {model}\n"
            f"model name\t: {name}\nstepping\t: 1\ncpu MHz\t\t: 2600.000\nflags\t\t: {flags}\n"
            "bugs\t\t: spectre_v1\nbogomips\t: 5200.00\n\n")


BASE = ("fpu vme de pse tsc msr pae mce cx8 apic sep mtrr pge mca cmov pat pse36 clflush mmx fxsr sse sse2 ht "
        "syscall nx pdpe1gb rdtscp lm constant_tsc rep_good nopl pni pclmulqdq ssse3 cx16 sse4_1 sse4_2 x2apic "
        "movbe popcnt aes xsave")
AVX2 = "avx f16c rdrand fma bmi1 avx2 smep bmi2 erms"
AVX512 = "avx512f avx512dq avx512cd avx512bw avx512vl"
ZEN4 = cpuinfo("AuthenticAMD", 25, 17, f"{BASE} {AVX2} sse4a {AVX512} avx512ifma avx512_bf16 avx512vbmi "
               "avx512_vbmi2 avx512_vnni avx512_bitalg avx512_vpopcntdq", "AMD EPYC 9654 96-Core Processor")
ZEN3 = cpuinfo("AuthenticAMD", 25, 1, f"{BASE} {AVX2} sse4a sha_ni vaes", "AMD EPYC 7763 64-Core Processor")
ZEN2 = cpuinfo("AuthenticAMD", 23, 49, f"{BASE} {AVX2} sse4a sha_ni", "AMD EPYC 7742 64-Core Processor")
ZEN5 = cpuinfo("AuthenticAMD", 26, 2, f"{BASE} {AVX2} sse4a {AVX512} avx512_bf16 avx_vnni",
               "AMD EPYC 9755 128-Core Processor")
SKYLAKE_X = cpuinfo("GenuineIntel", 6, 85, f"{BASE} {AVX2} hle rtm {AVX512}",
                    "Intel(R) Xeon(R) Gold 6148 CPU @ 2.40GHz")
SAPPHIRE = cpuinfo("GenuineIntel", 6, 143, f"{BASE} {AVX2} {AVX512} avx512_bf16 avx512_fp16 amx_bf16 amx_tile "
                   "amx_int8", "Intel(R) Xeon(R) Platinum 8480+")
HASWELL = cpuinfo("GenuineIntel", 6, 63, f"{BASE} {AVX2}", "Intel(R) Xeon(R) CPU E5-2680 v3 @ 2.50GHz")
SANDY = cpuinfo("GenuineIntel", 6, 45, f"{BASE} avx", "Intel(R) Xeon(R) CPU E5-2670 0 @ 2.60GHz")  # no avx2, fma
# a Zen 4 guest whose hypervisor shows AVX-512 but hides FMA: Haswell's kernels would die of SIGILL
ZEN4_NO_FMA = cpuinfo("AuthenticAMD", 25, 17, f"{BASE} avx avx2 sse4a {AVX512}")
ARM = ("processor\t: 0\nBogoMIPS\t: 50.00\nFeatures\t: fp asimd evtstrm aes pmull sha1 sha2 crc32 atomics fphp "
       "asimdhp cpuid asimdrdm lrcpc dcpop asimddp ssbs\nCPU implementer\t: 0x41\nCPU architecture: 8\n"
       "CPU variant\t: 0x3\nCPU part\t: 0xd0c\nCPU revision\t: 1\n\n")

CPUS = {"zen4": ZEN4, "zen3": ZEN3, "zen2": ZEN2, "zen5": ZEN5, "skylake_x": SKYLAKE_X, "sapphire": SAPPHIRE,
        "haswell": HASWELL, "sandy": SANDY, "zen4_no_fma": ZEN4_NO_FMA, "arm": ARM}
# attncli overrides OpenBLAS only on Zen 4 (measured); everywhere else OpenBLAS's own choice stands
EXPECTED = {"zen4": "Haswell", "zen3": None, "zen2": None, "zen5": None, "skylake_x": None, "sapphire": None,
            "haswell": None, "sandy": None, "zen4_no_fma": None, "arm": None}


# ------------------------------------------------------------------------------------------------------------
# the decision, on fake CPUs
# ------------------------------------------------------------------------------------------------------------


def test_cpuinfo_is_read_from_the_first_block():
    cpu = blas.parse_cpuinfo(ZEN4 + SANDY.replace("processor\t: 0", "processor\t: 1"))
    assert (cpu.vendor, cpu.family, cpu.model) == ("AuthenticAMD", 25, 17)  # not "model name"
    assert {"avx512f", "avx2", "fma"} <= cpu.flags
    arm = blas.parse_cpuinfo(ARM)
    assert arm.vendor == "" and arm.family is None and "asimd" in arm.flags


def test_read_cpu_reads_the_first_processor_of_a_file(tmp_path):
    path = tmp_path / "cpuinfo"
    path.write_text(ZEN4 + "".join(HASWELL.replace("processor\t: 0", f"processor\t: {i}") for i in range(1, 500)))
    assert blas.read_cpu(str(path)) == blas.parse_cpuinfo(ZEN4)
    assert blas.read_cpu(str(tmp_path / "none")) is None  # not Linux: no choice is made


@pytest.mark.parametrize("name", sorted(CPUS))
def test_choice_per_cpu(name):
    chosen = blas.choose(blas.parse_cpuinfo(CPUS[name]))
    assert (chosen[0] if chosen else None) == EXPECTED[name]


@pytest.mark.parametrize("name", sorted(CPUS))
def test_never_a_core_type_whose_instructions_the_cpu_lacks(name):
    cpu = blas.parse_cpuinfo(CPUS[name])
    chosen = blas.choose(cpu)
    if chosen is not None:
        assert blas.REQUIRES[chosen[0]] <= cpu.flags
    for core, needs in blas.REQUIRES.items():  # nor forced
        decision = blas.decide({blas.ENV: core}, cpu)
        assert (decision.coretype == core) == (needs <= cpu.flags), (core, decision)


@pytest.mark.parametrize("flag", ["avx", "avx2", "fma"])
def test_zen4_missing_any_of_haswells_instructions_keeps_openblas_choice(flag):
    flags = " ".join(f for f in ZEN4.split("flags\t\t: ")[1].split("\n")[0].split() if f != flag)
    cpu = blas.parse_cpuinfo(cpuinfo("AuthenticAMD", 25, 17, flags))
    assert blas.choose(cpu) is None


def test_every_rule_picks_a_core_type_with_known_needs():
    for rule in blas.RULES:
        assert rule.core in blas.REQUIRES
        assert rule.when, "a rule says which CPUs it is for"


# ------------------------------------------------------------------------------------------------------------
# the environment: off, forced, the user's OPENBLAS_CORETYPE
# ------------------------------------------------------------------------------------------------------------


def zen4() -> blas.Cpu:
    return blas.parse_cpuinfo(ZEN4)


def test_decide_by_default_applies_the_rule():
    d = blas.decide({}, zen4())
    assert (d.coretype, d.source, d.error) == ("Haswell", "attncli", None)
    d = blas.decide({}, blas.parse_cpuinfo(SKYLAKE_X))
    assert (d.coretype, d.source) == (None, "openblas")
    assert blas.decide({}, None).coretype is None  # no /proc/cpuinfo: nothing


@pytest.mark.parametrize("value", ["off", "OFF", " off "])
def test_off_leaves_openblas_choice(value):
    d = blas.decide({blas.ENV: value}, zen4())
    assert (d.coretype, d.source, d.error) == (None, "off", None)


@pytest.mark.parametrize("value,core", [("haswell", "Haswell"), ("SKYLAKEX", "SkylakeX"), ("Zen", "Zen"),
                                        ("Sandybridge", "Sandybridge")])
def test_forcing_a_core_type_the_cpu_can_run(value, core):
    d = blas.decide({blas.ENV: value}, zen4())
    assert (d.coretype, d.source, d.error) == (core, "forced", None)


def test_forcing_what_the_cpu_cannot_run_is_an_error():
    d = blas.decide({blas.ENV: "SkylakeX"}, blas.parse_cpuinfo(HASWELL))
    assert d.coretype is None and "avx512f" in d.error and "lacks" in d.error
    d = blas.decide({blas.ENV: "Haswell"}, blas.parse_cpuinfo(ARM))
    assert d.coretype is None and "avx2" in d.error
    d = blas.decide({blas.ENV: "Haswell"}, None)
    assert d.coretype is None and "OPENBLAS_CORETYPE=Haswell" in d.error
    d = blas.decide({blas.ENV: "Pentium4"}, zen4())
    assert d.coretype is None and "Pentium4" in d.error and "Haswell" in d.error and "off" in d.error


@pytest.mark.parametrize("attncli_env", [None, "off", "SkylakeX", "bogus"])
def test_the_users_openblas_coretype_wins(attncli_env):
    env = {"OPENBLAS_CORETYPE": "Sandybridge"} | ({blas.ENV: attncli_env} if attncli_env else {})
    d = blas.decide(env, zen4())
    assert (d.coretype, d.source, d.error) == (None, "user", None)
    applied = dict(env)
    blas.apply(applied, zen4())
    assert applied == env  # untouched


def test_apply_sets_the_choice_in_the_environment():
    env: dict[str, str] = {}
    assert blas.apply(env, zen4()).coretype == "Haswell" and env == {"OPENBLAS_CORETYPE": "Haswell"}
    env = {}
    blas.apply(env, blas.parse_cpuinfo(SKYLAKE_X))
    assert env == {}


def test_apply_to_a_childs_environment_leaves_this_process_decision():
    before = blas._applied
    env: dict[str, str] = {}
    assert blas.apply(env, zen4()).coretype == "Haswell" and env["OPENBLAS_CORETYPE"] == "Haswell"
    assert blas._applied is before


def test_blas_module_imports_no_numpy():
    code = "import sys, attncli.blas; print('numpy' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


# ------------------------------------------------------------------------------------------------------------
# the CLI, in subprocesses: the kernel in effect and what --debug says
# ------------------------------------------------------------------------------------------------------------

OURS = (blas.ENV, "OPENBLAS_CORETYPE", "OPENBLAS_VERBOSE")
CPU = blas.read_cpu()


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in OURS}
    return env | extra


def loaded_core(env: dict[str, str], code: str = "import numpy") -> str | None:
    """The kernels OpenBLAS says it loads ("Core: NAME" with OPENBLAS_VERBOSE=2) in a process running `code`."""
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                          env=env | {"OPENBLAS_VERBOSE": "2"})
    lines = [ln for ln in proc.stderr.splitlines() if ln.startswith("Core: ")]
    return lines[0].removeprefix("Core: ").strip() if lines else None


OPENBLAS_OWN = loaded_core(clean_env())
needs_openblas = pytest.mark.skipif(OPENBLAS_OWN is None, reason="numpy's BLAS is not a DYNAMIC_ARCH OpenBLAS")
needs_x86 = pytest.mark.skipif(CPU is None or not CPU.vendor, reason="core types are forced on x86-64 Linux")


def debug_line(env: dict[str, str]) -> str:
    proc = run(["compute", "--x", "1 0; 0 1", "--format", "csv", "--debug"], env=env)
    lines = [ln for ln in proc.stderr.decode().splitlines() if ln.startswith("debug: BLAS ")]
    assert len(lines) == 1, proc.stderr
    return lines[0]


@needs_openblas
def test_the_cli_loads_the_kernels_it_chose():
    chosen = blas.choose(CPU)
    core = loaded_core(clean_env(), "import attncli.cli, numpy")
    assert core == (chosen[0] if chosen else OPENBLAS_OWN)
    line = debug_line(clean_env())
    assert f"core type {core} " in line
    assert ("chosen by attncli" in line) == (chosen is not None), line
    assert line.startswith("debug: BLAS OpenBLAS ")


@needs_openblas
def test_off_keeps_openblas_own_kernels():
    env = clean_env(**{blas.ENV: "off"})
    assert loaded_core(env, "import attncli.cli, numpy") == OPENBLAS_OWN
    assert f"core type {OPENBLAS_OWN} (OpenBLAS's own choice)" in debug_line(env)


@needs_openblas
@needs_x86
def test_forced_and_user_core_types_are_loaded_and_named():
    if not blas.REQUIRES["Nehalem"] <= CPU.flags:
        pytest.skip("this CPU lacks SSE4.2")
    env = clean_env(**{blas.ENV: "nehalem"})
    assert loaded_core(env, "import attncli.cli, numpy") == "Nehalem"
    assert "core type Nehalem (chosen by ATTNCLI_BLAS_CORETYPE)" in debug_line(env)
    if blas.REQUIRES["Zen"] <= CPU.flags:  # numpy's wheel has no kernels of Zen's own: it runs Haswell's, and says so
        env = clean_env(**{blas.ENV: "Zen"})
        core = loaded_core(env, "import attncli.cli, numpy")
        line = debug_line(env)
        assert f"core type {core} (chosen by ATTNCLI_BLAS_CORETYPE)" in line
        assert (core == "Zen") != ("[OPENBLAS_CORETYPE=Zen; this OpenBLAS runs" in line), line
    env = clean_env(OPENBLAS_CORETYPE="Nehalem", **{blas.ENV: "Haswell"})  # OpenBLAS's own variable wins
    assert loaded_core(env, "import attncli.cli, numpy") == "Nehalem"
    assert "core type Nehalem (chosen by OPENBLAS_CORETYPE)" in debug_line(env)


def error_line(args: list[str], env: dict[str, str]) -> str:
    """A usage error: exit 2 and one line `error: ...` (as cli_helpers.run_error, with an environment)."""
    proc = run(args, env=env, check=False)
    err = proc.stderr.decode()
    assert proc.returncode == 2 and err.startswith("error: ") and err.count("\n") == 1, err
    return err


def test_an_impossible_choice_is_a_one_line_error():
    err = error_line(["compute", "--x", "1 0; 0 1"], clean_env(**{blas.ENV: "Pentium4"}))
    assert "ATTNCLI_BLAS_CORETYPE=Pentium4" in err and "off" in err
    lacking = [c for c, needs in blas.REQUIRES.items() if CPU is not None and not needs <= CPU.flags]
    if lacking:
        err = error_line(["--help"], clean_env(**{blas.ENV: lacking[-1]}))
        assert "lacks" in err


@needs_openblas
def test_python_m_attncli_blas_names_the_kernels_the_command_runs_on():
    out = subprocess.run([sys.executable, "-m", "attncli.blas"], capture_output=True, text=True, timeout=120,
                         env=clean_env(), check=True).stdout
    core = loaded_core(clean_env(), "import attncli.cli, numpy")
    assert out.startswith("OpenBLAS ") and f"core type {core} " in out and out.rstrip().endswith("1 thread")
    proc = subprocess.run([sys.executable, "-m", "attncli.blas"], capture_output=True, text=True, timeout=120,
                          env=clean_env(**{blas.ENV: "Pentium4"}))
    assert proc.returncode == 2 and proc.stderr.startswith("error: ATTNCLI_BLAS_CORETYPE=Pentium4")


@needs_openblas
def test_describe_asks_the_loaded_library():
    code = "import json, attncli.cli, numpy; from attncli import blas; print(json.dumps(blas.describe()))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                         env=clean_env(), check=True).stdout
    info = json.loads(out)
    chosen = blas.choose(CPU)
    assert info["core"] == loaded_core(clean_env(), "import attncli.cli, numpy")
    assert info["chosen_by"] == ("attncli" if chosen else "OpenBLAS")
    assert str(info["library"]).startswith("OpenBLAS ") and info["threads"] == 1  # the CLI's one BLAS thread
    assert "openblas" in Path(str(info["path"])).name.lower()


# ------------------------------------------------------------------------------------------------------------
# the same results under every core type (to the references' tolerances, and to each other)
# ------------------------------------------------------------------------------------------------------------

KERNELS = [c for c in ("SkylakeX", "Haswell", "Sandybridge") if CPU is not None and blas.REQUIRES[c] <= CPU.flags]
needs_two_kernels = pytest.mark.skipif(OPENBLAS_OWN is None or len(KERNELS) < 2,
                                       reason="fewer than two OpenBLAS core types run on this CPU")


def under(core: str) -> dict[str, str]:
    return clean_env(OPENBLAS_CORETYPE=core)


@needs_two_kernels
def test_compute_golden_cases_agree_under_every_kernel(tmp_path):
    from test_golden import CASE_FILES, check_json, input_args, load_case, option_args

    names = ("mha_cross", "mha_float32", "mha_causal_w_o", "mha_batched_padding")
    got: dict[str, list[np.ndarray]] = {}
    for path in (p for p in CASE_FILES if p.stem in names):
        case = load_case(path)
        args = ["compute", *input_args(case.inputs, tmp_path), *option_args(case.options), "--show",
                "weights,output", "--format", "json"]
        for core in KERNELS:
            assert loaded_core(under(core)) == core
            out = run(args, env=under(core), cwd=tmp_path).stdout.decode()
            check_json(case, out, f"{case.name} under {core}")  # the reference's tolerance: 1e-6 (f64), 1e-5 (f32)
            got.setdefault(case.name, []).append(np.array(json.loads(out)["output"], dtype=np.float64))
    assert set(got) == set(names)
    for name, outs in got.items():
        for other in outs[1:]:
            np.testing.assert_allclose(other, outs[0], rtol=0, atol=1e-6, err_msg=name)


@needs_two_kernels
def test_a_long_float32_attention_agrees_under_every_kernel(tmp_path):
    """Big enough for the blocked kernels (1,024 tokens, 8 heads, d = 64): the outputs under each core type agree
    to 1e-6, and with a float64 reference computed here to float32's accuracy."""
    rng = np.random.default_rng(15)
    q, k, v = (rng.standard_normal((8, 1024, 64)).astype(np.float32) for _ in range(3))
    files = []
    for name, a in zip("qkv", (q, k, v), strict=True):
        np.save(tmp_path / f"{name}.npy", a)
        files += [f"--{name}", str(tmp_path / f"{name}.npy")]
    s = q.astype(np.float64) @ k.astype(np.float64).transpose(0, 2, 1) / 8.0  # (H, n, n)
    w = np.exp(s - s.max(-1, keepdims=True))
    ref = (w / w.sum(-1, keepdims=True)) @ v.astype(np.float64)  # (H, n, d)
    outs = []
    for core in KERNELS:
        run(["compute", *files, "--show", "output", "-o", tmp_path / f"{core}.npy"], env=under(core))
        out = np.load(tmp_path / f"{core}.npy").astype(np.float64)  # (n, H·d): the heads side by side
        outs.append(out.reshape(1024, 8, 64).transpose(1, 0, 2))  # (H, n, d)
        np.testing.assert_allclose(outs[-1], ref, rtol=0, atol=1e-5, err_msg=core)
    for core, other in zip(KERNELS[1:], outs[1:], strict=True):
        np.testing.assert_allclose(other, outs[0], rtol=0, atol=1e-6, err_msg=f"{core} vs {KERNELS[0]}")


@needs_two_kernels
@pytest.mark.parametrize("name", ["bert", "llama_gqa"])
def test_model_golden_cases_agree_under_every_kernel(tmp_path, name):
    from test_models_golden import GOLDEN, compare, ids_args, load

    case, expected = load(name)
    got = []
    for core in KERNELS:
        out = tmp_path / f"{core}.npz"
        run(["model", GOLDEN / name, *ids_args(case), "--show", "attentions,hidden", "--format", "npz", "-o", out],
            env=under(core))
        with np.load(out) as z:
            arrays = {k: z[k] for k in z.files}
        compare(f"{name} under {core}", case, expected, arrays)  # transformers' tolerances
        got.append(arrays)
    for core, other in zip(KERNELS[1:], got[1:], strict=True):
        for key in ("attentions", "hidden"):
            a, b = other[key].astype(np.float64), got[0][key].astype(np.float64)
            scale = max(1.0, float(np.abs(b).max()))
            np.testing.assert_allclose(a, b, rtol=0, atol=1e-6 * scale, err_msg=f"{name} {key}: {core}")



def test_the_start_up_is_one_module_the_cli_and_python_m_attncli_blas_both_import():
    """attncli.startup sets the BLAS threads (the environment's setting wins) and kernels before numpy loads;
    `python -m attncli.blas` runs it without loading the CLI (no typer, no attncli.cli)."""
    code = "import os, sys, attncli.startup; print(os.environ['OPENBLAS_NUM_THREADS'], 'numpy' in sys.modules)"
    env = {k: v for k, v in os.environ.items() if k not in ("OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True).stdout
    assert out.split() == ["1", "False"]
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env=env | {"OPENBLAS_NUM_THREADS": "3"}).stdout
    assert out.split() == ["3", "False"]
    code = ("import runpy, sys\ntry:\n    runpy.run_module('attncli.blas', run_name='__main__')\nexcept SystemExit:\n"
            "    pass\nprint(sorted(m for m in sys.modules if m.startswith(('typer', 'attncli.cli'))))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                         check=True).stdout
    assert out.strip().splitlines()[-1] == "[]"
