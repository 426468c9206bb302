"""Class names as examples: each class's name (and description, when it has one), embedded
with the project's current encoder, joins the labels as one example of that class.

The head then knows every class from the first refit, also the classes nobody has labeled
yet, and a name that describes its class well (an intent such as "card arrival") gives it a
head start. Chosen under the tuning protocol (docs/benchmarks.md, "Class names as examples").
"""
from __future__ import annotations

import functools
from pathlib import Path

import numpy as np

from core.learning import classifiers, embeddings


def example_text(name: str, description: str = "") -> str:
    """What is embedded for a class: its name with underscores as spaces, then its description."""
    text = name.replace("_", " ").strip()
    description = (description or "").strip()
    return f"{text}: {description}" if description else text


def texts(classes: list[dict]) -> tuple[str, ...]:
    """The class example texts of class rows ({name, description}), in their order (class-id
    order when they are a project's classes as the store lists them)."""
    return tuple(example_text(c["name"], c.get("description", "")) for c in classes)


@functools.lru_cache(maxsize=32)
def encode(model: str, family: str, class_texts: tuple[str, ...]) -> np.ndarray:
    """Embed the class texts with an encoder (a model name or a directory), as the pool was embedded.
    Cached in the worker: a class list changes rarely and an encoder never."""
    if family == "transformer":
        return np.asarray(classifiers.load("transformer", Path(model)).embed_and_score(list(class_texts))[0],
                          dtype=np.float32)
    return np.asarray(embeddings.encode(embeddings.load_encoder(model), list(class_texts)), dtype=np.float32)


def for_encoder(encoder_row: dict, classes: list[dict]) -> np.ndarray:
    """A project's class examples (its class rows, in class-id order) embedded with one of its encoders."""
    return encode(encoder_row["model"], encoder_row["family"], texts(classes))
