"""The Thousand-Token Forest model: ``ForestModel`` (compressed, O(n)) and ``DenseForest`` (O(n^2)).

See ``modeling_forest`` for the method, ``config`` for the presets and ``flops`` for round costs;
``forest.checkpoints`` saves and loads them safely.
"""

from forest.model.aggregation import AggregationAttention
from forest.model.config import ForestConfig
from forest.model.dense import DenseForest
from forest.model.flops import (
    RoundFlops,
    dense_flops,
    forest_flops,
    meta_model,
    parameter_counts,
)
from forest.model.modeling_forest import ForestModel, ForestOutput, ForestPreTrainedModel

__all__ = [
    "AggregationAttention",
    "DenseForest",
    "ForestConfig",
    "ForestModel",
    "ForestOutput",
    "ForestPreTrainedModel",
    "RoundFlops",
    "dense_flops",
    "forest_flops",
    "meta_model",
    "parameter_counts",
]
