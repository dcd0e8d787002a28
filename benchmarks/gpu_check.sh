#!/usr/bin/env bash
# The CUDA path, checked in one short run on a machine with an NVIDIA GPU (a few minutes):
#   1. what CTranslate2, torch and NVML see;
#   2. jfk.flac and the replay's noise clip decoded on CUDA in float16 (`device=auto` picks it),
#      with the trace;
#   3. the usage sampler the arbiter would read (`ServiceSettings.usage="auto"`: NVML, else torch
#      CUDA), sampled while a decode runs and while nothing does;
#   4. the replay in both scenarios under the incident preset and the lab's pick, calibrated to
#      this GPU's decode of job A.
# Run from a checkout set up with `make` (the CPU wheel of torch is enough for 2 and 4; 3 needs
# NVML: `.venv/bin/pip install nvidia-ml-py`). Every step has its own time limit, and a step that
# fails does not stop the others: the output says which did.
set -u
cd "$(dirname "$0")/.."
BIN=.venv/bin
step() { echo; echo "== $1"; shift; timeout "$@" || echo "!! step failed or timed out (rc $?)"; }

step "what the libraries see" 60 "$BIN/python" - <<'PY'
import ctranslate2
print("ctranslate2", ctranslate2.__version__, "CUDA devices:", ctranslate2.get_cuda_device_count())
print("CUDA compute types:", sorted(ctranslate2.get_supported_compute_types("cuda")) if ctranslate2.get_cuda_device_count() else "-")
try:
    import torch
    print("torch", torch.__version__, "cuda available:", torch.cuda.is_available(),
          torch.cuda.get_device_name(0) if torch.cuda.is_available() else "")
except ImportError:
    print("torch missing")
from asrlab.decoding import models
print("device auto ->", models.placement())
PY

step "jfk.flac on CUDA float16" 120 "$BIN/asrlab" transcribe jfk --trace
step "the replay's job A (pink noise, seed 3) on CUDA float16" 180 \
    "$BIN/asrlab" transcribe pink_noise --noise-seed 3 --length-s 11.2 --trace

step "the usage sampler, idle then under a decode" 120 "$BIN/python" - <<'PY'
import threading, time
from asrlab.audio import corpus
from asrlab.decoding.options import preset
from asrlab.decoding.decoder import load_model
from asrlab.service.usage import sampler_for

sampler = sampler_for("auto", list)
print("sampler:", type(sampler).__name__)
idle = []
for _ in range(5):
    idle.append(sampler.sample()); time.sleep(0.2)
model = load_model("base")
samples, _ = corpus.load_source("pink_noise", length_s=11.2, noise_seed=3)
busy, done = [], threading.Event()
def watch():
    while not done.is_set():
        busy.append(sampler.sample()); time.sleep(0.2)
t = threading.Thread(target=watch); t.start()
trace = model.run(samples, preset("incident"))
done.set(); t.join()
print(f"idle readings: {[round(v, 2) for v in idle]}")
print(f"during a {trace.wall_s:.1f} s decode ({len(trace.attempts)} attempts): "
      f"max {max(busy):.2f}, median {sorted(busy)[len(busy) // 2]:.2f}, {len(busy)} readings")
PY

step "the replay, both scenarios, calibrated to this GPU" 480 \
    "$BIN/asrlab" reproduce --remedies incident,recommended --no-traces
