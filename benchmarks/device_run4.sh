#!/bin/bash
# Fourth device run (session 3): the LoRA family at the new defaults (every linear layer; LoRA
# and DoRA r 4 at 10x, rsLoRA at 5x, AdaLoRA 6 -> 4 at 30x and at 10x) beside full
# fine-tuning, full SST-2, 3 epochs, 3 seeds each, all 18 trainings at once on the GPU.
. benchmarks/device_setup.sh
timeout ${T:-185} python3 benchmarks/bench_peft.py --model-dir /tmp/minilm --data-dir $D/data/sst2_sentences --device cuda \
  --jobs 18 --methods full,lora,dora,rslora,adalora,adalora@1e-3 --out-json $OUT/peft.json --out-md $OUT/peft.md >$OUT/peft.log 2>&1
cat $OUT/peft.md || tail -30 $OUT/peft.log
