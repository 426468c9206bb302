"""Sieve core: the store, import/export, embeddings, classifiers, strategies and the worker.

Nothing here imports streamlit; heavy ML libraries are imported lazily inside the
functions that need them so the UI process stays light.
"""
