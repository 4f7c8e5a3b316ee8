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
    if name == "train":
        from tunewise.pipeline import train

        return train
    if name == "load":
        from tunewise.predictor import load

        return load
    if name in ("build_config", "Config"):
        from tunewise import config

        return getattr(config, name)
    if name == "UserError":
        from tunewise.errors import UserError

        return UserError
    raise AttributeError(f"module 'tunewise' has no attribute {name!r}")
