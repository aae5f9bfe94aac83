"""The C sequencing state machine (seq.c, through build/tools/seqdrive)
against the sequencing layer of the two-site model (tests/model/seqmodel.py,
docs/model.md): the same seeded scenarios, run to silence, must give the
same trace line for line."""

import os
import subprocess
import sys

import pytest

from test_channel_lib import TOOLS

SRCDIR = os.environ.get("FERRY_SRCDIR", os.getcwd())
MODEL = os.path.join(SRCDIR, "tests", "model")
SEQDRIVE = os.path.join(TOOLS, "seqdrive")

SEEDS = int(os.environ.get("FERRY_SEQ_MODEL_SEEDS", "1500"))
STEPS = 60

# Rule variants: the defaults (ack-top on: finding F6), other timings, and
# each switch off (the model keeps them to reproduce DESIGN.md as written).
VARIANTS = [
    [],
    ["option resend-after 3", "option ack-interval 0"],
    ["option resend-after 20", "option ack-interval 9"],
    ["option reack-duplicates 0"],
    ["option gap-ack 0"],
    ["option ack-behind 0"],
    ["option ack-top 0"],
]


@pytest.fixture(scope="module")
def model():
    if not os.path.exists(os.path.join(MODEL, "seqmodel.py")):
        pytest.skip("the model (tests/model/seqmodel.py) is not there")
    sys.path.insert(0, MODEL)
    import gen
    import scenario
    import seqmodel
    return gen, scenario, seqmodel


def model_trace(seqmodel, scenario, text):
    w = seqmodel.SeqWorld()
    w.run(scenario.parse(text))
    seqmodel.settle(w)
    return w.trace


def c_traces(paths):
    p = subprocess.run([SEQDRIVE, "--settle"] + paths, capture_output=True,
                       text=True, timeout=600)
    assert p.returncode == 0, p.stderr
    out, cur = {}, None
    for line in p.stdout.splitlines():
        if line.startswith("== "):
            cur = line[3:]
            out[cur] = []
        else:
            out[cur].append(line)
    return out


def first_difference(a, b):
    for i, (x, y) in enumerate(zip(a, b)):
        if x != y:
            return i
    return min(len(a), len(b)) if len(a) != len(b) else None


def test_c_state_machine_agrees_with_the_model_step_by_step(model, tmp_path):
    gen, scenario, seqmodel = model
    paths, texts = [], {}
    restores = 0
    for seed in range(SEEDS):
        events = gen.generate(seed, STEPS, seq_only=True)
        variant = VARIANTS[seed % len(VARIANTS)]
        text = "".join(line + "\n" for line in variant)
        text += scenario.format_scenario(events)
        restores += "restore-state" in text
        path = str(tmp_path / ("seed-%05d.scn" % seed))
        with open(path, "w") as f:
            f.write(text)
        paths.append(path)
        texts[path] = text
    got = {}
    for i in range(0, len(paths), 500):
        got.update(c_traces(paths[i:i + 500]))
    lines = detected = 0
    for path in paths:
        want = model_trace(seqmodel, scenario, texts[path])
        have = got[path]
        at = first_difference(want, have)
        if at is not None:
            lo = max(0, at - 6)
            raise AssertionError(
                "%s: trace differs at line %d\nscenario:\n%s\nmodel:\n%s\n"
                "C:\n%s" % (path, at + 1, texts[path],
                            "\n".join(want[lo:at + 3]),
                            "\n".join(have[lo:at + 3])))
        lines += len(want)
        detected += any("fork" in x or "restore-detected" in x for x in want)
    print("model agreement: %d scenarios of %d events (+ settling), %d "
          "trace lines, %d with a restore, %d forks/restores detected" % (
              SEEDS, STEPS, lines, restores, detected))
    assert detected > 0 and restores > 0
