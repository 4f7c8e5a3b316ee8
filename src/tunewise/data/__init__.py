"""Data: read files into canonical examples, split them, and fetch packaged datasets."""

from tunewise.data.examples import Example, dedupe
from tunewise.data.labels import build_label_map, check_labels
from tunewise.data.packaged import PACKAGED, PackagedDataset, get_packaged
from tunewise.data.readers import read_examples
from tunewise.data.splits import grouped_split, stratified_split

__all__ = [
    "PACKAGED",
    "Example",
    "PackagedDataset",
    "build_label_map",
    "check_labels",
    "dedupe",
    "get_packaged",
    "grouped_split",
    "read_examples",
    "stratified_split",
]
