# Sourced by benchmarks/device_run*.sh on the device machine (from the repo root): installs the
# wheels .devcarry/ carries (pydantic, datasketch, seqeval for that machine's Python 3.12) into
# /tmp/site, puts them and src/ on PYTHONPATH, and widens minilm (carried as fp16 safetensors to
# stay under the 64 MiB transfer limit; transformers would load an fp16 checkpoint as fp16) back
# to fp32 in /tmp/minilm. .devcarry/ is git-excluded; benchmarks/README.md says what it holds.
export PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 TOKENIZERS_PARALLELISM=false
D=.devcarry
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site $D/whl/*.whl || exit 1
export PYTHONPATH=/tmp/site:$PWD/src
python3 - <<'PY' || exit 1
import os, shutil
from safetensors.torch import load_file, save_file
src, dst = ".devcarry/minilm16", "/tmp/minilm"
os.makedirs(dst, exist_ok=True)
for f in os.listdir(src):
    if f.endswith(".safetensors"):
        sd = load_file(os.path.join(src, f))
        save_file({k: v.float() if v.is_floating_point() else v for k, v in sd.items()}, os.path.join(dst, f), metadata={"format": "pt"})
    else:
        shutil.copy(os.path.join(src, f), dst)
PY
