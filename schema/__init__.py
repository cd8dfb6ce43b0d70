"""The semantic layer's vocabulary: model files, their validation, and the registry."""
