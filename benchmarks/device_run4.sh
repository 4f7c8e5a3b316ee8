#!/bin/bash
# Fourth device run (session 3): the LoRA family at the new defaults (every linear layer; LoRA
# and DoRA r 4 at 10x, rsLoRA at 5x, AdaLoRA 6 -> 4 at 30x and at 10x) beside full
# fine-tuning, full SST-2, 3 epochs, 3 seeds each, all 18 trainings at once on the GPU.
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
timeout ${T:-185} python3 benchmarks/bench_peft.py --model-dir /tmp/minilm --data-dir $D/data/sst2_sentences --device cuda \
  --jobs 18 --methods full,lora,dora,rslora,adalora,adalora@1e-3 --out-json $OUT/peft.json --out-md $OUT/peft.md >$OUT/peft.log 2>&1
cat $OUT/peft.md || tail -30 $OUT/peft.log
