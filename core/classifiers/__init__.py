"""Classifier families. Each module holds one family, its arguments dataclass and its training code.

Label ids are integers inside (the position of the class in the project's class list);
class names appear only at the edges (the store, exports, the UI).

- `head`: logistic regression on frozen (or fine-tuned) sentence embeddings: the fast refit.
- `setfit_encoder`: SetFit contrastive fine-tuning of the encoder: the full retrain.
"""
