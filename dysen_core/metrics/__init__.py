"""Evaluation metrics (paper App. B.1): TriRec (eq. 13), plan accuracy (Fig. 9) and video dynamics scores.

Each metric is a component (``name``, ``Options``, ``reset`` / ``update`` / ``compute``) registered by
``dysen_core.default_plugins.metrics``; ``matching`` holds the event matching they share.
"""
