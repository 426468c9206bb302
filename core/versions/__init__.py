"""Model versions as people see them: pinning, per-class figures, the Model page's rows."""
