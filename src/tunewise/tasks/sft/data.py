"""Read data for supervised fine-tuning of decoders: instructions, chats and plain text.

Three formats, one canonical example (:class:`ChatExample`):

* instruction JSONL: ``{"instruction": ..., "input": ... (optional), "output": ...}``
* chat JSONL: ``{"messages": [{"role": "system"|"user"|"assistant", "content": ...}, ...]}``
  (OpenAI style, multi-turn; every assistant turn is trained)
* plain text (``.txt``): a domain corpus for continued pretraining; paragraphs separated by a
  blank line are documents, and every token is trained.

A JSONL file may mix instruction and chat rows. Every bad row ends in one :class:`UserError`
naming the file and line.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from tunewise.errors import UserError

ROLES = ("system", "user", "assistant")


@dataclass
class ChatExample:
    """One SFT example: a conversation (trained on its assistant turns) or a plain text."""

    messages: list[dict] | None
    """``[{"role", "content"}]``; None for plain text."""
    text: str | None = None
    """Plain text (continued pretraining); every token is trained."""
    where: str = ""
    """Where it came from, e.g. ``train.jsonl line 7``."""

    @property
    def prompt(self) -> list[dict] | None:
        """The messages before the last assistant turn (what generation is asked to answer)."""
        if not self.messages or self.messages[-1]["role"] != "assistant":
            return self.messages
        return self.messages[:-1]

    @property
    def reference(self) -> str | None:
        """The last assistant turn's content: the reference answer for exact match/ROUGE-L."""
        if self.messages and self.messages[-1]["role"] == "assistant":
            return self.messages[-1]["content"]
        return None


def instruction_messages(instruction: str, input: str | None, output: str | None) -> list[dict]:
    """An instruction row as a chat: the user asks (instruction, then input), the assistant answers."""
    user = instruction.strip()
    if input and input.strip():
        user = f"{user}\n\n{input.strip()}"
    msgs = [{"role": "user", "content": user}]
    if output is not None:
        msgs.append({"role": "assistant", "content": output})
    return msgs


def _str_field(row: dict, key: str, at: str, required: bool) -> str | None:
    v = row.get(key)
    if v is None:
        if required:
            raise UserError(f"{at}: missing field {key!r}")
        return None
    if not isinstance(v, str):
        raise UserError(f"{at}: field {key!r} must be a string, not {type(v).__name__}")
    if required and not v.strip():
        raise UserError(f"{at}: field {key!r} is empty")
    return v


def _messages(value, at: str, require_answer: bool) -> list[dict]:
    if not isinstance(value, list) or not value:
        raise UserError(f"{at}: 'messages' must be a non-empty list of {{role, content}} objects")
    out = []
    for k, m in enumerate(value):
        here = f"{at} message {k + 1}"
        if not isinstance(m, dict) or "role" not in m or "content" not in m:
            raise UserError(f"{here}: expected an object with 'role' and 'content'")
        role, content = m["role"], m["content"]
        if role not in ROLES:
            raise UserError(f"{here}: role {role!r} is not one of {', '.join(ROLES)}")
        if not isinstance(content, str):
            raise UserError(f"{here}: 'content' must be a string, not {type(content).__name__}")
        if role == "system" and k != 0:
            raise UserError(f"{here}: a system message may only come first")
        out.append({"role": role, "content": content})
    if require_answer:
        if not any(m["role"] == "assistant" for m in out):
            raise UserError(f"{at}: no assistant message, so nothing to learn from this row")
        first = next(i for i, m in enumerate(out) if m["role"] != "system")
        if out[first]["role"] != "user":
            raise UserError(f"{at}: the conversation must start with a user message")
        for m in out:
            if m["role"] == "assistant" and not m["content"].strip():
                raise UserError(f"{at}: an assistant message is empty")
    return out


def parse_row(row, at: str, require_answer: bool = True) -> ChatExample:
    """One JSON object (instruction, chat or text row) as a :class:`ChatExample`."""
    if not isinstance(row, dict):
        raise UserError(f"{at}: expected a JSON object, got {type(row).__name__}")
    if "messages" in row:
        return ChatExample(_messages(row["messages"], at, require_answer), None, at)
    if "instruction" in row:
        inst = _str_field(row, "instruction", at, True)
        inp = _str_field(row, "input", at, False)
        out = _str_field(row, "output", at, require_answer)
        return ChatExample(instruction_messages(inst, inp, out), None, at)
    if "text" in row:
        return ChatExample(None, _str_field(row, "text", at, True), at)
    raise UserError(
        f"{at}: expected 'messages' (chat), 'instruction'/'output' (instruction) or 'text'; "
        f"found {', '.join(map(repr, row)) or 'no fields'}"
    )


def _decode(path: Path) -> str:
    data = path.read_bytes()
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = data[: e.start].count(b"\n") + 1
        raise UserError(f"{path} line {line}: not valid UTF-8; save the file as UTF-8") from None


def read_sft(path: str | Path, require_answer: bool = True) -> list[ChatExample]:
    """Read a ``.jsonl``/``.json`` (instruction or chat rows) or ``.txt`` (plain text) file.

    Args:
        require_answer: rows must hold an answer (training data); off for prompt files.

    Raises:
        UserError: missing file, unsupported type, or a bad row (file and line named).
    """
    p = Path(path)
    if not p.is_file():
        raise UserError(f"{path}: file not found")
    suffix = p.suffix.lower()
    if suffix not in (".jsonl", ".json", ".txt"):
        raise UserError(
            f"{path}: unsupported file type {p.suffix or '(no extension)'!r} for sft; use .jsonl "
            "(instruction or chat rows) or .txt (plain text)"
        )
    text = _decode(p)
    if not text.strip():
        raise UserError(f"{path}: empty file (no rows)")
    if suffix == ".txt":
        return _read_text(text, p)
    out = []
    # split on newlines only: JSON may hold U+2028 or a form feed raw inside a string, and
    # str.splitlines would cut the row there
    for i, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        at = f"{p} line {i}"
        try:
            row = json.loads(line)
        except json.JSONDecodeError as e:
            raise UserError(f"{at} column {e.colno}: not valid JSON ({e.msg})") from None
        out.append(parse_row(row, at, require_answer))
    return out


def _read_text(text: str, p: Path) -> list[ChatExample]:
    docs, start, buf = [], 1, []
    for i, line in enumerate(text.splitlines() + [""], start=1):
        if line.strip():
            if not buf:
                start = i
            buf.append(line)
        elif buf:
            docs.append(ChatExample(None, "\n".join(buf), f"{p} line {start}"))
            buf = []
    return docs
