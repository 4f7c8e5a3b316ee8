"""Export a trained model (Hugging Face directory, ONNX) with a parity check."""
