"""Reel AV: the reference model (model.py), synthetic clips (clips.py), the media path (data.py), training and
evaluation (train.py, evaluate.py). The normative description is formats/REEL-AV.md."""
