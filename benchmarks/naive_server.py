"""The naive server the serve benchmark compares against: one forward pass per request.

What a tutorial writes: FastAPI + uvicorn, a sync endpoint (FastAPI runs it in its thread
pool), tokenize the request's texts, run the torch model, return labels. No batching across
requests, no queue bound.

    python benchmarks/naive_server.py RUN_DIR --port 8001
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch
import uvicorn
from fastapi import FastAPI
from pydantic import BaseModel
from transformers import AutoModelForSequenceClassification, AutoTokenizer


class Req(BaseModel):
    texts: list[str]


def make_app(model_dir: Path) -> FastAPI:
    tok = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForSequenceClassification.from_pretrained(model_dir).eval()
    labels = model.config.id2label
    app = FastAPI()

    @app.post("/v1/classify")
    def classify(req: Req):
        enc = tok(req.texts, padding=True, truncation=True, max_length=128, return_tensors="pt")
        with torch.inference_mode():
            probs = torch.softmax(model(**enc).logits, -1)
        return {
            "results": [{"label": labels[int(p.argmax())], "score": float(p.max())} for p in probs]
        }

    @app.get("/healthz")
    def healthz():
        return {"status": "ok"}

    return app


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("run", type=Path)
    ap.add_argument("--port", type=int, default=8001)
    a = ap.parse_args()
    model_dir = a.run / "model" if (a.run / "run.json").is_file() else a.run
    uvicorn.run(make_app(model_dir), host="127.0.0.1", port=a.port, log_level="warning")
