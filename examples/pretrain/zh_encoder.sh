#!/bin/bash
# Rebuilds the small Chinese encoder of benchmarks/RESULTS.md ([pretrain]): a WordPiece
# tokenizer trained on the text (Chinese by character) and a BERT-style encoder pretrained from
# scratch (masked LM) on the Chinese text of ../shared/datasets, with every test text kept out.
# Run from the project root (`make zh-encoder`); the result is RUN/model, listed by
# `tunewise models`, fine-tuned with `tunewise train --model runs/zh-encoder/model ...`.
#   SIZE=tiny|mini|small  STEPS=...  OUT=runs/zh-encoder  SHARED_DATASETS=../shared/datasets
set -euo pipefail
SHARED=${SHARED_DATASETS:-../shared/datasets}
OUT=${OUT:-runs/zh-encoder}
W=build/zh-encoder
.venv/bin/python examples/pretrain/zh_corpus.py --shared "$SHARED" --out "$W"
dedup=()
for t in "$W"/tests/*.jsonl; do dedup+=(--dedup-against "$t"); done
.venv/bin/tunewise pretrain --from-scratch --size "${SIZE:-mini}" --tokenizer train \
  --text "$W/zh.txt" --objective mlm --max-steps "${STEPS:-3000}" --max-length 64 \
  "${dedup[@]}" --out "$OUT" --overwrite
