"""The rules of ``audio.normalize``, one module per class of text; the order they run in is in
``audio.normalize.normalize_for_speech``."""
