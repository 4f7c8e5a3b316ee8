#!/bin/bash
# One device run: GPU figures for the spine, peft and tokens benchmarks, plus a bf16-CPU speed check.
# Prepared on the session machine: .devcarry/ holds wheels (pydantic, datasketch, seqeval for
# Python 3.12), minilm as fp16 safetensors (under the 64 MiB transfer limit; widened back to fp32
# below) and copies of sst2_sentences, conll2003 and wnut17. Run from the repo root; $OUT collects logs.
. benchmarks/device_setup.sh
{ nvidia-smi -L; lscpu | grep -E "Model name|^CPU\(s\)"; grep -o -w -E "avx512_bf16|amx_bf16|amx_tile" /proc/cpuinfo | sort | uniq -c; python3 -c "import torch,transformers,peft,accelerate;print(torch.__version__,transformers.__version__,peft.__version__,accelerate.__version__, torch.backends.cpu.get_cpu_capability())"; } >$OUT/machine.txt 2>&1
cat $OUT/machine.txt
S=$D/data/sst2_sentences
# 1. spine on the GPU, alone (speed ratio + accuracy), one tunewise seed and one Trainer seed each
timeout 200 taskset -c 2-15 python3 benchmarks/bench_spine.py --device cuda --model /tmp/minilm --data $S \
  --only tunewise,trainer,trainer_gbl,trainer_gbl_bf16,tfidf --seeds 42 --threads 8 >$OUT/spine_gpu.log 2>&1
tail -12 $OUT/spine_gpu.log
# 2. at once: peft (every method x 3 seeds, GPU), tokens (GPU), spine speed on 2 CPU cores with bf16 auto
timeout 330 taskset -c 4-15 python3 benchmarks/bench_peft.py --model-dir /tmp/minilm --data-dir $S --device cuda --jobs 6 \
  --out-json $OUT/peft.json --out-md $OUT/peft.md >$OUT/peft.log 2>&1 &
timeout 330 taskset -c 2-3 python3 benchmarks/bench_tokens.py --model /tmp/minilm --data-dir $D/data --device cuda \
  --json-out $OUT/tokens.json >$OUT/tokens.log 2>&1 &
CUDA_VISIBLE_DEVICES= timeout 300 taskset -c 0-1 python3 benchmarks/bench_spine.py --device cpu --model /tmp/minilm --data $S \
  --only tunewise,trainer_gbl --seeds 42 --threads 2 --train-rows 1000 --dev-rows 200 --test-rows 200 --epochs 1 \
>$OUT/spine_cpu.log 2>&1 &
wait
tail -5 $OUT/spine_cpu.log $OUT/tokens.log $OUT/peft.log
