#!/bin/bash
# Second device run (session 3): everything at once, each job pinned to its own cores.
#  - CPU (AMX-BF16 Xeon), 2 cores per job, GPU hidden: the spine comparison at full size,
#    tunewise with bf16 auto x 3 seeds x 3 epochs (accuracy and speed), Trainer with
#    group_by_length (fp32, its default) x 3 epochs, Trainer default for 1 epoch (speed), and
#    on 1,000 rows x 1 epoch Trainer gbl with bf16=True and tunewise with bf16 off (speed).
#  - GPU, 4 trainings at a time on the remaining 4 cores: LoRA-family methods at their current
#    defaults, LoRA at three other learning rates (chosen on dev), and full fine-tuning, 3 seeds.
# Prepared as device_run.sh: .devcarry/ (git-excluded) holds wheels, minilm as fp16 safetensors
# and the data. Run from the repo root; $OUT collects logs and JSON.
. benchmarks/device_setup.sh
{ nvidia-smi -L; lscpu | grep -E "Model name|^CPU\(s\)"; grep -o -w -E "avx512_bf16|amx_bf16|amx_tile" /proc/cpuinfo | sort | uniq -c; python3 -c "import torch,transformers,peft,accelerate;print(torch.__version__,transformers.__version__,peft.__version__,accelerate.__version__, torch.backends.cpu.get_cpu_capability())"; } >$OUT/machine.txt 2>&1
cat $OUT/machine.txt
S=$D/data/sst2_sentences
T=${T:-470}
spine() {  # cores name args...
  local cores=$1 name=$2; shift 2
  CUDA_VISIBLE_DEVICES= timeout $T taskset -c $cores python3 benchmarks/bench_spine.py --device cpu \
    --model /tmp/minilm --data $S --threads 2 --json-out $OUT/spine_$name.json "$@" >$OUT/spine_$name.log 2>&1
}
spine 0-1 tw42 --only tunewise --seeds 42 &
spine 2-3 tw43 --only tunewise --seeds 43 &
spine 4-5 tw44 --only tunewise --seeds 44 &
spine 6-7 gbl --only trainer_gbl &
spine 8-9 trainer1ep --only trainer --epochs 1 &
{ spine 10-11 gblbf16_small --only trainer_gbl_bf16 --train-rows 1000 --dev-rows 200 --test-rows 200 --epochs 1
  spine 10-11 twfp32_small --only tunewise --tw-bf16 off --seeds 42 --train-rows 1000 --dev-rows 200 --test-rows 200 --epochs 1
  spine 10-11 twauto_small --only tunewise --seeds 42 --train-rows 1000 --dev-rows 200 --test-rows 200 --epochs 1; } &
timeout $T taskset -c 12-15 python3 benchmarks/bench_peft.py --model-dir /tmp/minilm --data-dir $S --device cuda --jobs 4 \
  --methods full,lora,lora@1e-3,lora@2e-3,lora@5e-3,dora,rslora,adalora \
  --out-json $OUT/peft.json --out-md $OUT/peft.md >$OUT/peft.log 2>&1 &
wait
for f in $OUT/spine_*.log; do echo "== $f"; grep -E "^\|" $f | tail -4; tail -2 $f; done
cat $OUT/peft.md 2>/dev/null || tail -20 $OUT/peft.log
