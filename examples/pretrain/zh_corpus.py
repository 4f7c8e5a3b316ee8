"""The Chinese pretraining text of the small encoder built from scratch (no test text in it).

THUCNews titles (``tunewise data get thucnews``), ``zh_cs_qmatch`` questions (train split),
``resume_ner`` train sentences, FewCLUE EPRSTMT and TNEWS train + dev sentences; one document
per line, duplicates dropped. The labeled test sets (EPRSTMT, TNEWS and resume_ner test) are
written as JSONL too, for ``tunewise pretrain --dedup-against`` (which drops any document that
is or holds one of their texts, and the doctor check confirms none is left).

    python examples/pretrain/zh_corpus.py --shared ../shared/datasets --out build/zh-encoder
"""

from __future__ import annotations

import argparse
import csv
import json
import subprocess
import sys
from pathlib import Path


def bmes_sentences(path: Path) -> list[str]:
    """The sentences of a one-character-per-line BMES file."""
    out, cur = [], []
    for line in open(path, encoding="utf-8"):
        line = line.strip()
        if not line:
            if cur:
                out.append("".join(cur))
            cur = []
        else:
            cur.append(line.split()[0])
    if cur:
        out.append("".join(cur))
    return out


def fewclue(shared: Path, task: str, split: str) -> list[str]:
    with open(shared / "fewclue" / task / f"{split}.json", encoding="utf-8") as f:
        return [json.loads(line)["sentence"] for line in f]


def build(shared: Path, out: Path) -> dict:
    """Write ``out/zh.txt`` and ``out/tests/*.jsonl``; returns their paths and the counts."""
    out.mkdir(parents=True, exist_ok=True)
    texts: list[str] = []
    thu = out / "thucnews"
    if not (thu / "train.jsonl").is_file():
        cli = Path(sys.executable).with_name("tunewise")
        subprocess.run([str(cli), "data", "get", "thucnews", "--out", str(thu)], check=True)
    for name in ("train", "dev", "test"):  # THUCNews is not one of the evaluated tasks
        texts += [
            json.loads(line)["text"] for line in open(thu / f"{name}.jsonl", encoding="utf-8")
        ]
    with open(shared / "zh_cs_qmatch" / "pairs.csv", newline="", encoding="utf-8") as f:
        for r in csv.DictReader(f):
            if r["split"] == "train":
                texts += [r["text_a"], r["text_b"]]
    texts += bmes_sentences(shared / "resume_ner" / "train.char.bmes")
    for task in ("eprstmt", "tnews"):
        texts += fewclue(shared, task, "train_few_all") + fewclue(shared, task, "dev_few_all")
    tests = {
        "eprstmt": fewclue(shared, "eprstmt", "test_public"),
        "tnews": fewclue(shared, "tnews", "test_public"),
        "resume_ner": bmes_sentences(shared / "resume_ner" / "test.char.bmes"),
    }
    (out / "tests").mkdir(exist_ok=True)
    test_files = []
    for name, rows in tests.items():
        p = out / "tests" / f"{name}.jsonl"
        with open(p, "w", encoding="utf-8") as f:
            for t in rows:
                f.write(json.dumps({"text": t}, ensure_ascii=False) + "\n")
        test_files.append(p)
    docs = list(dict.fromkeys(" ".join(t.split()) for t in texts if t.strip()))
    (out / "zh.txt").write_text("\n".join(docs) + "\n", encoding="utf-8")
    return {"text": out / "zh.txt", "documents": len(docs), "tests": test_files}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--shared", type=Path, default=Path("../shared/datasets"))
    p.add_argument("--out", type=Path, default=Path("build/zh-encoder"))
    a = p.parse_args()
    r = build(a.shared, a.out)
    print(f"{r['text']}: {r['documents']:,} documents; test sets: {' '.join(map(str, r['tests']))}")


if __name__ == "__main__":
    main()
