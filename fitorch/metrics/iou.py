"""Intersection-over-union metrics from a streamed confusion matrix.

`IoU_c = TP_c / (TP_c + FP_c + FN_c)`; the result averages it over the target classes whose
denominator is non-zero. The confusion matrix is accumulated with one `index_add_` per batch.
Deviation from Keras: the matrix is float64 by default (exact counts up to 2**53, and fractional
sample weights count as given) where Keras keeps int32 and truncates float weights.
"""

from __future__ import annotations

import torch

from fitorch.metrics._utils import as_tensor
from fitorch.metrics.base import Metric, register_metric

__all__ = ["IoU", "MeanIoU", "BinaryIoU", "OneHotIoU", "OneHotMeanIoU"]

_EPSILON = 1e-7


class _IoUBase(Metric):
    direction = "up"

    def __init__(
        self,
        num_classes: int,
        name=None,
        dtype=None,
        ignore_class=None,
        sparse_y_true: bool = True,
        sparse_y_pred: bool = True,
        axis: int = -1,
    ):
        super().__init__(name=name, dtype=dtype or torch.float64)
        if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 1:
            raise ValueError(
                f"{type(self).__name__}: `num_classes` must be a positive int; got {num_classes!r}."
            )
        self.num_classes = num_classes
        self.ignore_class = ignore_class
        self.sparse_y_true = sparse_y_true
        self.sparse_y_pred = sparse_y_pred
        self.axis = axis
        self.add_state("total_cm", torch.zeros((num_classes, num_classes), dtype=self.dtype))

    def update_state(self, y_true, y_pred, sample_weight=None) -> None:
        device = self.total_cm.device
        y_true, y_pred = as_tensor(y_true, device), as_tensor(y_pred, device)
        if not self.sparse_y_true:
            y_true = y_true.argmax(self.axis)
        if not self.sparse_y_pred:
            y_pred = y_pred.argmax(self.axis)
        y_true, y_pred = y_true.reshape(-1).long(), y_pred.reshape(-1).long()
        n = self.num_classes
        valid = (y_true >= 0) & (y_true < n) & (y_pred >= 0) & (y_pred < n)
        if self.ignore_class is not None:
            valid &= y_true != self.ignore_class
        if sample_weight is None:
            weights = valid.to(self.dtype)
        else:
            w = as_tensor(sample_weight, device, self.dtype).reshape(-1)
            weights = torch.broadcast_to(w, y_true.shape) * valid
        cells = torch.where(valid, y_true * n + y_pred, torch.zeros_like(y_true))
        self.total_cm.view(-1).index_add_(0, cells, weights)

    def _iou(self, target_class_ids) -> torch.Tensor:
        cm = self.total_cm
        tp = cm.diagonal()
        denominator = cm.sum(0) + cm.sum(1) - tp  # predicted + actual - both
        ids = torch.as_tensor(target_class_ids, device=cm.device)
        tp, denominator = tp[ids], denominator[ids]
        valid = denominator > 1e-9
        iou = torch.where(valid, tp / (denominator + _EPSILON), torch.zeros_like(tp))
        return (iou.sum() / (valid.sum() + _EPSILON)).to(torch.float32)

    def get_config(self) -> dict:
        return {
            **super().get_config(),
            "num_classes": self.num_classes,
            "ignore_class": self.ignore_class,
            "sparse_y_true": self.sparse_y_true,
            "sparse_y_pred": self.sparse_y_pred,
            "axis": self.axis,
        }


class IoU(_IoUBase):
    """Mean IoU over `target_class_ids` (integer labels and predictions by default).

    >>> m = IoU(num_classes=2, target_class_ids=[0]); m.update_state([0, 0, 1, 1], [0, 1, 0, 1])
    >>> round(float(m.result()), 4)
    0.3333
    """

    def __init__(
        self,
        num_classes: int,
        target_class_ids,
        name=None,
        dtype=None,
        ignore_class=None,
        sparse_y_true: bool = True,
        sparse_y_pred: bool = True,
        axis: int = -1,
    ):
        super().__init__(num_classes, name, dtype, ignore_class, sparse_y_true, sparse_y_pred, axis)
        ids = list(target_class_ids)
        if not ids or max(ids) >= num_classes or min(ids) < 0:
            raise ValueError(
                f"{type(self).__name__}: `target_class_ids` must be non-empty and in "
                f"[0, {num_classes}); got {ids}."
            )
        self.target_class_ids = ids

    def result(self) -> torch.Tensor:
        return self._iou(self.target_class_ids)

    def get_config(self) -> dict:
        return {**super().get_config(), "target_class_ids": self.target_class_ids}


class MeanIoU(IoU):
    """IoU averaged over all `num_classes` classes."""

    def __init__(
        self,
        num_classes: int,
        name=None,
        dtype=None,
        ignore_class=None,
        sparse_y_true: bool = True,
        sparse_y_pred: bool = True,
        axis: int = -1,
    ):
        super().__init__(
            num_classes, list(range(num_classes)), name, dtype, ignore_class, sparse_y_true,
            sparse_y_pred, axis,
        )  # fmt: skip

    def get_config(self) -> dict:
        config = super().get_config()
        del config["target_class_ids"]
        return config


class BinaryIoU(IoU):
    """IoU of binary labels against `y_pred >= threshold`, over classes `target_class_ids`."""

    def __init__(self, target_class_ids=(0, 1), threshold: float = 0.5, name=None, dtype=None):
        super().__init__(2, target_class_ids, name=name, dtype=dtype)
        self.threshold = threshold

    def update_state(self, y_true, y_pred, sample_weight=None) -> None:
        y_pred = as_tensor(y_pred, self.total_cm.device)
        super().update_state(y_true, (y_pred >= self.threshold).long(), sample_weight)

    def get_config(self) -> dict:
        return {
            "name": self.name,
            "dtype": str(self.dtype).replace("torch.", ""),
            "target_class_ids": self.target_class_ids,
            "threshold": self.threshold,
        }


class OneHotIoU(IoU):
    """IoU with one-hot `y_true` and per-class scores `y_pred` (argmax taken)."""

    def __init__(
        self,
        num_classes: int,
        target_class_ids,
        name=None,
        dtype=None,
        ignore_class=None,
        sparse_y_pred: bool = False,
        axis: int = -1,
    ):
        super().__init__(
            num_classes, target_class_ids, name, dtype, ignore_class, False, sparse_y_pred, axis
        )

    def get_config(self) -> dict:
        config = super().get_config()
        del config["sparse_y_true"]
        return config


class OneHotMeanIoU(MeanIoU):
    """MeanIoU with one-hot `y_true` and per-class scores `y_pred`."""

    def __init__(
        self,
        num_classes: int,
        name=None,
        dtype=None,
        ignore_class=None,
        sparse_y_pred: bool = False,
        axis: int = -1,
    ):
        super().__init__(num_classes, name, dtype, ignore_class, False, sparse_y_pred, axis)

    def get_config(self) -> dict:
        config = super().get_config()
        del config["sparse_y_true"]
        return config


for _cls in (IoU, MeanIoU, BinaryIoU, OneHotIoU, OneHotMeanIoU):
    register_metric(_cls)
