"""Machine learning with no store: embeddings, classifier families, strategies, stopping, figures."""
