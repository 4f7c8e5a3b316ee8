"""The playground's chat: an sft run's answer streamed chunk by chunk over server-sent events."""

from __future__ import annotations

import json

import tunewise
from tests.sft.conftest import build_tiny_llama, sft_config, write_rows
from tests.studio.conftest import registry_env, studio_server, train_tiny


def test_chat_streams_the_sft_answer(tiny_model_dir, tiny_files, tmp_path):
    tiny_llama_dir = build_tiny_llama(tmp_path / "tiny-llama")
    rows = [{"instruction": f"Tell me about item {i}", "output": "Noted."} for i in range(24)]
    data = {
        "train": write_rows(tmp_path / "train.jsonl", rows[:16]),
        "dev": write_rows(tmp_path / "dev.jsonl", rows[16:]),
    }
    cfg = sft_config(tiny_llama_dir, data, tmp_path / "sft", epochs=1)
    cfg["sft"]["eval_samples"] = 1
    cfg["data"]["split"] = {"test": 0.0}
    with registry_env(tmp_path / "runs.db") as reg:
        sft = tunewise.train(cfg).path
        train_tiny(tiny_model_dir, tiny_files, tmp_path / "cls", epochs=1)
    messages = [{"role": "user", "content": "Tell me about item 3"}]
    expected = tunewise.load(sft).generate(messages, max_new_tokens=12)
    with studio_server(reg, tmp_path / "work") as (client, _):
        ids = {r["name"]: r["id"] for r in client.get("/api/runs")[2]["runs"]}
        status, headers, data = client.post(
            "/api/chat", {"run": ids["sft"], "messages": messages, "max_new_tokens": 12}, raw=True
        )
        assert status == 200 and headers["content-type"].startswith("text/event-stream")
        events = data.decode().split("\n\n")
        chunks = [json.loads(e[6:]) for e in events if e.startswith("data: ")]
        assert "event: end" in data.decode()
        assert "".join(chunks) == expected and len(chunks) > 1  # token by token, not at once
        # a classifier has no chat; an sft run's page offers it in the playground
        status, _, out = client.post("/api/chat", {"run": ids["cls"], "messages": messages})
        assert status == 409 and "does not generate" in out["error"]["message"]
        page = client.get(f"/playground?a={ids['sft']}")[2].decode()
        assert f'value="{ids["sft"]}"' in page and 'data-generates="1"' in page
