"""One chat template, applied the same way in training, evaluation and generation.

The template is the model's own (its tokenizer's ``chat_template``) or a named one; it is set on
the tokenizer, which is saved with the model, so generation renders prompts exactly as
training did. Training text is cut into segments at turn boundaries -- the prompt before each
assistant turn is rendered with ``add_generation_prompt=True``, exactly the string generation
will see -- and each segment is tokenized on its own, so the tokens the model learns to produce
after a prompt are the tokens it will be asked to produce after the same prompt.
"""

from __future__ import annotations

from tunewise.errors import UserError

# ChatML, as SmolLM2, Qwen and others use it.
CHATML = (
    "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\n' + message['content']"
    " + '<|im_end|>' + '\n' }}{% endfor %}{% if add_generation_prompt %}"
    "{{ '<|im_start|>assistant\n' }}{% endif %}"
)
NAMED_TEMPLATES = {"chatml": CHATML}
_PROBE = "Tunewise probe answer 7431."


def set_template(tokenizer, name: str | None) -> None:
    """Give ``tokenizer`` the chat template to use: its own (``name`` None), a named one
    (``chatml``), or the contents of a ``.jinja`` file."""
    if name is None:
        if not getattr(tokenizer, "chat_template", None):
            raise UserError(
                "this model's tokenizer has no chat template; choose one with "
                f"sft.chat_template=NAME ({', '.join(NAMED_TEMPLATES)}) or a .jinja file"
            )
        return
    if name in NAMED_TEMPLATES:
        tokenizer.chat_template = NAMED_TEMPLATES[name]
        return
    from pathlib import Path

    p = Path(name)
    if p.suffix == ".jinja" and p.is_file():
        tokenizer.chat_template = p.read_text(encoding="utf-8")
        return
    raise UserError(
        f"sft.chat_template: {name!r} is neither a named template "
        f"({', '.join(NAMED_TEMPLATES)}) nor an existing .jinja file"
    )


def render(tokenizer, messages: list[dict], generation_prompt: bool) -> str:
    """The template applied to ``messages`` as text."""
    try:
        return tokenizer.apply_chat_template(
            messages, tokenize=False, add_generation_prompt=generation_prompt
        )
    except Exception as e:  # jinja errors: a template that rejects these messages
        raise UserError(f"chat template failed on these messages: {e}") from None


def end_of_turn(tokenizer) -> str:
    """The token string that ends an assistant turn in this template (``<|im_end|>`` for
    ChatML); generation stops on it and training keeps it in the labels.

    Raises:
        UserError: the template ends assistant turns with no single special token, so a
            fine-tuned model would have no way to stop.
    """
    text = render(
        tokenizer,
        [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": _PROBE}],
        False,
    )
    after = text[text.rindex(_PROBE) + len(_PROBE) :]
    specials = set(tokenizer.all_special_tokens) | {
        t.content for t in tokenizer.added_tokens_decoder.values() if t.special
    }
    for tok in sorted(specials, key=len, reverse=True):
        if tok and after.startswith(tok):
            return tok
    eos = tokenizer.eos_token
    if eos and after.lstrip().startswith(eos):
        return eos
    raise UserError(
        f"the chat template ends an assistant turn with {after[:20]!r}, not a special token; a "
        "model trained on it could not stop. Use a template whose turns end in an end-of-turn "
        "token (sft.chat_template=chatml needs <|im_end|> in the vocabulary)"
    )


def stop_token_ids(tokenizer, eot: str) -> list[int]:
    """Token ids that end generation: the end-of-turn token and EOS (deduplicated)."""
    ids = []
    for t in (eot, tokenizer.eos_token):
        if t is None:
            continue
        i = tokenizer.convert_tokens_to_ids(t)
        if i is not None and i != tokenizer.unk_token_id and i not in ids:
            ids.append(i)
    if not ids:
        raise UserError(f"end-of-turn token {eot!r} is not in the tokenizer's vocabulary")
    return ids


def segments(tokenizer, messages: list[dict], eot: str) -> list[tuple[str, bool]]:
    """The rendered conversation cut into (text, trained) pieces; trained pieces are the
    assistant turns up to and including the end-of-turn token."""
    out: list[tuple[str, bool]] = []
    pos = 0
    full = ""
    for i, m in enumerate(messages):
        if m["role"] != "assistant":
            continue
        prompt = render(tokenizer, messages[:i], True)
        full = render(tokenizer, messages[: i + 1], False)
        if not full.startswith(prompt) or len(prompt) < pos:
            raise UserError(
                "the chat template renders a conversation differently from its prompt, so "
                "training and generation would differ; use another template (sft.chat_template)"
            )
        answer = full[len(prompt) :]
        k = answer.find(eot)
        if k < 0:
            raise UserError(f"the chat template does not end this assistant turn with {eot!r}")
        out.append((prompt[pos:], False))
        out.append((answer[: k + len(eot)], True))
        pos = len(prompt) + k + len(eot)
    last = render(tokenizer, messages, False)
    if len(last) > pos:
        out.append((last[pos:], False))
    return [(t, trained) for t, trained in out if t]


def encode_conversation(tokenizer, messages: list[dict], eot: str) -> tuple[list[int], list[int]]:
    """Token ids and labels (-100 everywhere but assistant turns and their end-of-turn)."""
    ids: list[int] = []
    labels: list[int] = []
    for text, trained in segments(tokenizer, messages, eot):
        piece = tokenizer(text, add_special_tokens=False)["input_ids"]
        ids += piece
        labels += piece if trained else [-100] * len(piece)
    return ids, labels


def encode_prompt(tokenizer, messages: list[dict]) -> list[int]:
    """Token ids of a generation prompt: exactly the prefix training saw before an answer."""
    return tokenizer(render(tokenizer, messages, True), add_special_tokens=False)["input_ids"]
