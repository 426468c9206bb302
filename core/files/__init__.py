"""Files in and out: imports, label exports, Hugging Face datasets, model exports, predictions."""
