"""The one training loop, its batching, and checkpoint/resume."""
