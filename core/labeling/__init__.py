"""The annotator's side: the next text, labels, skips, undo, and the jobs labels schedule."""
