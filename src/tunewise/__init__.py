"""tunewise: supervised fine-tuning of pretrained language models, with honest evaluation.

Python API::

    import tunewise
    result = tunewise.train({"model": {"name": "minilm"}, "data": {"train": "train.jsonl"}})
    predictor = tunewise.load(result.path)
    predictor.predict(["a gripping film"])
"""

__version__ = "0.1.0"

__all__ = ["train", "load", "build_config", "Config", "UserError", "__version__"]


def __getattr__(name):
    # Lazy: `import tunewise` and `tunewise --help` must not import torch.
    if name == "train":  # the runner, or K-shot draws / in-context learning when asked
        from tunewise.fewshot import train

        return train
    if name == "load":
        import tunewise.continual  # noqa: F401  (registers the lora-per-task router's loader)
        from tunewise.run.api import load

        return load
    if name == "build_config":  # the config a run saves: the task's defaults applied
        from tunewise.run.runner import build_config

        return build_config
    if name == "Config":
        from tunewise.config import Config

        return Config
    if name == "UserError":
        from tunewise.errors import UserError

        return UserError
    raise AttributeError(f"module 'tunewise' has no attribute {name!r}")
