#!/bin/bash
# Third device run (session 3): LoRA neighbours at full SST-2 size on the GPU, 3 seeds each,
# after device_run2.sh showed LoRA's 3e-3 default unstable (one seed of three collapsed).
# A: r 4 on every linear layer (query, key, value, and the three "dense": attention output,
#    feed-forward in and out; 0.73% trainable), lr 1e-3 and 2e-3. B: the default adapter without
#    dropout, lr 1e-3 and 2e-3. C: A without dropout at 1e-3.
. benchmarks/device_setup.sh
S=$D/data/sst2_sentences
T=${T:-230}
peft() {  # cores jobs name methods options
  timeout $T taskset -c $1 python3 benchmarks/bench_peft.py --model-dir /tmp/minilm --data-dir $S --device cuda --jobs $2 \
    --methods $4 --options "$5" --out-json $OUT/peft_$3.json --out-md $OUT/peft_$3.md >$OUT/peft_$3.log 2>&1
}
ALL='["query","key","value","dense"]'
peft 0-5 6 alllinear_r4 lora@1e-3,lora@2e-3 "{\"lora\": {\"r\": 4, \"target_modules\": $ALL}}" &
peft 6-11 6 nodropout lora@1e-3,lora@2e-3 '{"lora": {"dropout": 0.0}}' &
peft 12-15 3 alllinear_r4_nodrop lora@1e-3 "{\"lora\": {\"r\": 4, \"dropout\": 0.0, \"target_modules\": $ALL}}" &
wait
for f in $OUT/peft_*.md; do echo "== $f"; cat $f; done
