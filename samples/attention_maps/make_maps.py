"""Writes maps.npy: 2 layers × 4 heads × 6 × 6 causal attention maps over "the cat sat on the mat",
shaped like a model's saved attentions (torch.stack(outputs.attentions)[:, 0]), with the patterns
heads are known for. Run from the repository root: python samples/attention_maps/make_maps.py
"""

from pathlib import Path

import numpy as np

n = 6
i, j = np.indices((n, n))  # query i, key j
causal = j <= i


def softmax_rows(s):
    s = np.where(causal, s, -np.inf)
    e = np.exp(s - s.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


rng = np.random.default_rng(0)
heads = [
    softmax_rows(np.where(j == i - 1, 3.0, 0.0)),  # previous token
    softmax_rows(np.where(j == 0, 3.0, 0.0)),  # first-token sink
    softmax_rows(np.where(j == i, 2.5, 0.0)),  # self (diagonal)
    softmax_rows(rng.normal(0, 0.3, (n, n))),  # broad
    softmax_rows(np.where(j == 0, 4.0, 0.0) + np.where(j == i, 1.0, 0.0)),  # sink with a little self
    softmax_rows(np.where((j == 1) | (j == 5), 2.5, 0.0)),  # looks at the nouns: cat, mat
    softmax_rows(np.where(j == i - 1, 1.5, 0.0) + np.where(j == i, 1.5, 0.0)),  # local
    softmax_rows(np.where(j == 2, 3.0, 0.0) + rng.normal(0, 0.2, (n, n))),  # the verb: sat
]
maps = np.stack(heads).reshape(2, 4, n, n).astype(np.float32)  # (layers, heads, n_q, n_k)
np.save(Path(__file__).with_name("maps.npy"), maps)
