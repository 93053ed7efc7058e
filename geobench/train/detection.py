"""Detection and instance segmentation: Faster R-CNN / Mask R-CNN heads as GEO-Bench-2 built them.

GEO-Bench-2's detection runs used terratorch's ``ObjectDetectionModelFactory`` (IBM/terratorch
1.2.4, ``terratorch/models/object_detection_model_factory.py``, cited below as *factory*; the same
file on the experiment branch ``dino_v3_od_experiments`` @ 20f18654) with the model configurations
of that branch's ``examples/confs/geobenchv2_detection/<dataset>/<dataset>_<model>.yaml`` (*configs*:
``faster-rcnn`` for everwatch, nzcattle and windturbine, ``mask-rcnn`` for substation and pastis).
This module rebuilds those heads from torchvision's classes (own code; the facts are terratorch's):

====================  ==========================================================================
part                  choice (source)
====================  ==========================================================================
neck, pyramid         CNN / Swin encoders: their stages as they are (configs: only
                      ``FeaturePyramidNetworkNeck``, after ``PermuteDims`` for Swin). ViTs (four
                      levels at one stride): terratorch's ``LearnedInterpolateToPyramidal``
                      scheme (configs: ``SelectIndices`` → ``ReshapeTokensToImage`` →
                      ``LearnedInterpolateToPyramidal`` → FPN; ``terratorch/models/necks.py``):
                      level 1 ×4 by ConvT(C→C/2)–BN–GELU–ConvT(C/2→C/4), level 2 ×2 by
                      ConvT(C→C/2), level 3 as is, level 4 ÷2 by 2×2 max-pool — whatever the
                      patch size. Other single-stride encoders (not in the configs, e.g. the
                      test encoders): :class:`~geobench.train.unet.PyramidNeck`.
FPN                   ``torchvision.ops.FeaturePyramidNetwork(channels, 256)`` with **no extra
                      block**: one output per encoder level, named ``feat0``… (terratorch
                      ``FeaturePyramidNetworkNeck``, ``necks.py``; default ``out_channel=256``).
                      No max-pooled extra level (torchvision's ResNet-FPN models add one).
levels                as many as the neck gives: 4 for every GEO-Bench-2 model in geobench.
                      (Not reproduced: terratorch's ``timm_resnet50`` takes timm's default
                      ``features_only`` indices and the DeCUR configs set ``out_indices:
                      [0,1,2,3,4]``, so those two models had 5 levels there, strides 2-32 with the
                      stride-2 stem, anchors 32-512 and RoI pooling on strides 2-16; geobench's
                      resnet50 / DeCUR encoders give the 4 stages at strides 4-32.)
anchors               one size per level, ``(32, 64, 128, 256, 512)[:levels]``, aspect ratios
                      ``(0.5, 1.0, 2.0)`` (factory, faster-rcnn and mask-rcnn branches).
RPN head              Faster R-CNN: torchvision's default ``RPNHead`` (one 3×3 conv); Mask R-CNN:
                      ``RPNHead(..., conv_depth=2)`` (factory, mask-rcnn branch).
RPN settings          torchvision ``FasterRCNN`` defaults (the configs pass none): pre-NMS top-n
                      2000 train / 1000 test, post-NMS 2000 / 1000, NMS 0.7, fg/bg IoU 0.7/0.3,
                      256 anchors per image, 50 % positive, score threshold 0.
box RoI pool          ``MultiScaleRoIAlign(feat0..feat3, output_size=7, sampling_ratio=2)``
                      (factory; with fewer levels, the levels there are).
box head              Faster R-CNN: torchvision's default ``TwoMLPHead(256·7·7, 1024)``; Mask
                      R-CNN: ``FastRCNNConvFCHead((256, 7, 7), [256]*4, [1024], norm_layer=
                      BatchNorm2d)`` (factory, mask-rcnn branch).
box predictor         ``FastRCNNPredictor(1024, K + 1)`` (torchvision default; ``num_classes``
                      of the configs counts the background, e.g. everwatch 9 = 8 birds + 1).
RoI settings          torchvision defaults: fg/bg IoU 0.5/0.5, 512 RoIs per image, 25 % positive,
                      score threshold 0.05, per-class NMS 0.5, 100 detections per image.
mask RoI pool         the box pooler's settings: **7×7**, sampling ratio 2 (factory passes the
                      same ``roi_pooler`` as ``mask_roi_pool``; torchvision's default is 14×14).
mask head             ``MaskRCNNHeads(256, [256]*4, dilation=1, norm_layer=BatchNorm2d)``
                      (factory); predictor torchvision's default ``MaskRCNNPredictor(256, 256,
                      K + 1)`` (ConvT ×2: 14×14 mask logits from the 7×7 pool).
transform             none: terratorch replaces torchvision's ``GeneralizedRCNNTransform`` by
                      ``TerratorchGeneralizedRCNNTransform`` (``terratorch/models/utils.py``),
                      whose ``forward`` only stacks the images — no normalisation (the factory's
                      ``image_mean`` 0 / ``image_std`` 1 and ``_skip_resize=True`` are therefore
                      moot), no resize (``framework_min_size``/``framework_max_size`` = the image
                      size in the configs, unused), no padding to a multiple of 32. Post-processing
                      is torchvision's: boxes in input pixels, masks pasted at full size.
====================  ==========================================================================

Multi-temporal inputs go through the encoder step by step and are pooled over time as the task
spec says (:mod:`geobench.train.temporal`; the PASTIS configs concatenate 12 steps,
``backbone_temporal_concat``, which multiplies each level's channels before the neck, as in
terratorch's ``TemporalWrapper``). Inputs arrive z-scored from the loader; labels follow
torchvision (0 background, objects 1..K), as the configs' class lists do (``Background`` first).

The encoder, neck and FPN run here and torchvision's ``RegionProposalNetwork`` and ``RoIHeads`` are
called on an ``ImageList`` directly (no ``GeneralizedRCNN`` wrapper), so the modality layout and
the time mask are plain call arguments. Under autocast the encoder, neck and FPN run in reduced
precision but the RPN and RoI heads run in float32: torchvision derives the dtype of anchors,
proposals and boxes from the feature maps, so bfloat16 would quantise box coordinates to 2 px
between 256 and 512 px (terratorch's runs used ``precision: 16-mixed``, i.e. float16 heads,
0.25-0.5 px there; an exact reproduction of that rounding is not attempted).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import nn

from geobench.errors import ConfigError, ModelError
from geobench.train.task_spec import EncoderStep, TaskSpec
from geobench.train.unet import PyramidNeck

FPN_CHANNELS = 256
ANCHOR_SIZES = (32, 64, 128, 256, 512)
ASPECT_RATIOS = (0.5, 1.0, 2.0)
ROI_LEVELS = 4  # feat0..feat3 feed the RoI poolers
ROI_OUTPUT = 7
ROI_SAMPLING = 2
REPRESENTATION = 1024


class LearnedViTPyramid(nn.Module):
    """Four single-stride levels -> strides ×4, ×2, ×1, ÷2 (terratorch's learned interpolation).

    Channels become ``[C0/4, C1/2, C2, C3]``; see the module docstring for the layers.
    """

    def __init__(self, channels: Sequence[int]) -> None:
        super().__init__()
        if len(channels) != 4:
            raise ModelError(f"the ViT pyramid takes exactly 4 levels, got {len(channels)}")
        c0, c1, c2, c3 = channels
        self.up4 = nn.Sequential(nn.ConvTranspose2d(c0, c0 // 2, 2, stride=2), nn.BatchNorm2d(c0 // 2),
                                 nn.GELU(), nn.ConvTranspose2d(c0 // 2, c0 // 4, 2, stride=2))
        self.up2 = nn.ConvTranspose2d(c1, c1 // 2, 2, stride=2)
        self.down2 = nn.MaxPool2d(kernel_size=2, stride=2)
        self.out_channels: list[int] = [c0 // 4, c1 // 2, c2, c3]

    def forward(self, feats: list[torch.Tensor]) -> list[torch.Tensor]:
        return [self.up4(feats[0]), self.up2(feats[1]), feats[2], self.down2(feats[3])]


def detection_neck(channels: Sequence[int],
                   reductions: Sequence[int]) -> LearnedViTPyramid | PyramidNeck:
    """The neck between the encoder and the FPN (``out_channels`` attribute; see module doc)."""
    channels, reductions = list(channels), list(reductions)
    if len(channels) == 4 and len(set(reductions)) == 1:
        return LearnedViTPyramid(channels)
    return PyramidNeck(channels, reductions)


class RCNNHeads(nn.Module):
    """torchvision's region proposal network and RoI heads (``rpn``, ``roi_heads``)."""

    def __init__(self, rpn: nn.Module, roi_heads: nn.Module) -> None:
        super().__init__()
        self.rpn = rpn
        self.roi_heads = roi_heads


def build_rcnn_heads(task: str, num_levels: int, num_classes: int) -> RCNNHeads:
    """RPN + RoI heads for ``num_levels`` FPN maps ``feat0..`` and ``num_classes`` (with background)."""
    from torchvision.models.detection.anchor_utils import AnchorGenerator
    from torchvision.models.detection.faster_rcnn import (
        FastRCNNConvFCHead,
        FastRCNNPredictor,
        RPNHead,
        TwoMLPHead,
    )
    from torchvision.models.detection.mask_rcnn import MaskRCNNHeads, MaskRCNNPredictor
    from torchvision.models.detection.roi_heads import RoIHeads
    from torchvision.models.detection.rpn import RegionProposalNetwork
    from torchvision.ops import MultiScaleRoIAlign

    if not 1 <= num_levels <= len(ANCHOR_SIZES):
        raise ModelError(f"the detector takes 1 to {len(ANCHOR_SIZES)} feature levels (one anchor "
                         f"size each), the encoder gives {num_levels}")
    masks = task == "instance_segmentation"
    anchors = AnchorGenerator(sizes=tuple((s,) for s in ANCHOR_SIZES[:num_levels]),
                              aspect_ratios=(ASPECT_RATIOS,) * num_levels)
    rpn_head = RPNHead(FPN_CHANNELS, anchors.num_anchors_per_location()[0],
                       conv_depth=2 if masks else 1)
    rpn = RegionProposalNetwork(
        anchors, rpn_head, fg_iou_thresh=0.7, bg_iou_thresh=0.3, batch_size_per_image=256,
        positive_fraction=0.5, pre_nms_top_n={"training": 2000, "testing": 1000},
        post_nms_top_n={"training": 2000, "testing": 1000}, nms_thresh=0.7, score_thresh=0.0)
    roi_names = [f"feat{i}" for i in range(min(num_levels, ROI_LEVELS))]
    box_head: nn.Module
    if masks:
        box_head = FastRCNNConvFCHead((FPN_CHANNELS, ROI_OUTPUT, ROI_OUTPUT), [256] * 4,
                                      [REPRESENTATION], norm_layer=nn.BatchNorm2d)
    else:
        box_head = TwoMLPHead(FPN_CHANNELS * ROI_OUTPUT**2, REPRESENTATION)
    mask_kw: dict[str, Any] = {}
    if masks:
        mask_kw = dict(
            mask_roi_pool=MultiScaleRoIAlign(roi_names, ROI_OUTPUT, sampling_ratio=ROI_SAMPLING),
            mask_head=MaskRCNNHeads(FPN_CHANNELS, [256] * 4, 1, norm_layer=nn.BatchNorm2d),
            mask_predictor=MaskRCNNPredictor(256, 256, num_classes))
    roi_heads = RoIHeads(
        MultiScaleRoIAlign(roi_names, ROI_OUTPUT, sampling_ratio=ROI_SAMPLING), box_head,
        FastRCNNPredictor(REPRESENTATION, num_classes), fg_iou_thresh=0.5, bg_iou_thresh=0.5,
        batch_size_per_image=512, positive_fraction=0.25, bbox_reg_weights=None,
        score_thresh=0.05, nms_thresh=0.5, detections_per_img=100, **mask_kw)
    return RCNNHeads(rpn, roi_heads)


class DetectionTaskModel(EncoderStep):
    """Faster R-CNN (``detection``) or Mask R-CNN (``instance_segmentation``) on the encoder.

    Inputs: ``{modality: (B, C, H, W) or (B, T, C, H, W)}`` (z-scored, one size for the batch),
    an optional ``time_mask`` ``(B, T)``; targets one dict per image with ``boxes`` (xyxy
    pixels), ``labels`` (1..K) and, for Mask R-CNN, ``masks`` ``(M, H, W)``.

    * :meth:`loss` — the summed torchvision losses of a batch (training mode);
    * :meth:`predict` — per-image detections ``boxes``, ``labels`` (1..K), ``scores`` and, for
      Mask R-CNN, ``masks`` ``(N, 1, H, W)`` probabilities (eval mode);
    * ``forward(inputs, targets=None, time_mask=None)`` — training mode: the dict of losses;
      eval mode: the detections.
    """

    def __init__(self, encoder: nn.Module, spec: TaskSpec) -> None:
        super().__init__()
        from torchvision.ops import FeaturePyramidNetwork

        if spec.task not in ("detection", "instance_segmentation"):
            raise ConfigError(f"DetectionTaskModel does not handle task {spec.task!r}")
        if spec.image_size is None:
            raise ConfigError("detection models need the dataset's image_size (TaskSpec.image_size)")
        self.encoder = encoder
        self.spec = spec
        self.task = spec.task
        enc: Any = encoder
        # channels after temporal pooling ("concat" stacks the steps' features), when the spec
        # describes one; otherwise the encoder's own
        per_level = getattr(spec, "feature_channels", None)
        channels = list(per_level(enc.channels)) if callable(per_level) else list(enc.channels)
        self.neck = detection_neck(channels, list(enc.reductions))
        levels = list(self.neck.out_channels)
        self.fpn = FeaturePyramidNetwork(levels, FPN_CHANNELS)
        self.level_names = [f"feat{i}" for i in range(len(levels))]
        self.detector = build_rcnn_heads(spec.task, len(levels), spec.num_classes + 1)

    def features(self, inputs: Mapping[str, torch.Tensor],
                 time_mask: torch.Tensor | None = None) -> OrderedDict[str, torch.Tensor]:
        """Encoder (over time), neck and FPN: ``{"feat0": (B, 256, h0, w0), ...}``."""
        feats = self.neck(self._encode(inputs, time_mask))
        return self.fpn(OrderedDict(zip(self.level_names, feats, strict=True)))

    def _run(self, inputs: Mapping[str, torch.Tensor], targets: list[dict[str, torch.Tensor]] | None,
             time_mask: torch.Tensor | None) -> tuple[list[dict[str, torch.Tensor]], dict[str, torch.Tensor]]:
        from torchvision.models.detection.image_list import ImageList

        if not inputs:
            raise ModelError("the detection model got no inputs")
        first = next(iter(inputs.values()))
        if first.ndim not in (4, 5):
            raise ModelError(f"input shape {tuple(first.shape)}; expected (B, C, H, W) or (B, T, C, H, W)")
        b, (h, w) = first.shape[0], tuple(int(s) for s in first.shape[-2:])
        sizes = [(h, w)] * b
        feats = self.features(inputs, time_mask)
        # the RPN reads only the batch's spatial size from the ImageList tensor (anchor strides)
        images = ImageList(first if first.ndim == 4 else first[:, 0], sizes)
        heads: Any = self.detector
        # float32 heads even under autocast: torchvision takes the anchors' and boxes' dtype from
        # the feature maps, and bfloat16 coordinates are 2 px apart between 256 and 512 px
        with torch.autocast(first.device.type, enabled=False):
            feats = OrderedDict((k, v.float()) for k, v in feats.items())
            proposals, rpn_losses = heads.rpn(images, feats, targets)
            detections, roi_losses = heads.roi_heads(feats, proposals, sizes, targets)
        return detections, {**rpn_losses, **roi_losses}

    def losses(self, inputs: Mapping[str, torch.Tensor], targets: list[dict[str, torch.Tensor]],
               time_mask: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        """torchvision's loss dict (``loss_objectness``, ``loss_rpn_box_reg``, ``loss_classifier``,
        ``loss_box_reg`` and, for Mask R-CNN, ``loss_mask``); training mode only."""
        if not self.training:
            raise ModelError("detection losses need the model in training mode (model.train())")
        return self._run(inputs, _detector_targets(targets), time_mask)[1]

    def detect(self, inputs: Mapping[str, torch.Tensor],
               time_mask: torch.Tensor | None = None) -> list[dict[str, torch.Tensor]]:
        """Per-image detections (eval mode only); masks pasted to ``(N, 1, H, W)``."""
        from torchvision.models.detection.roi_heads import paste_masks_in_image

        if self.training:
            raise ModelError("detections need the model in eval mode (model.eval())")
        detections, _ = self._run(inputs, None, time_mask)
        first = next(iter(inputs.values()))
        size = (int(first.shape[-2]), int(first.shape[-1]))
        for d in detections:  # boxes are already in input pixels (no resize happened)
            if "masks" in d:
                d["masks"] = paste_masks_in_image(d["masks"], d["boxes"], size)
        return detections

    def loss(self, batch: Mapping[str, Any], output: Any = None) -> torch.Tensor:
        """The summed torchvision losses of ``batch`` (``inputs``, ``target``, ``time_mask``).

        ``output`` (the common task-model signature) is not used: detection losses come from the
        training-mode pass, not from eval-mode detections.
        """
        del output
        losses = self.losses(batch["inputs"], batch["target"], batch.get("time_mask"))
        return torch.stack(list(losses.values())).sum()

    def predict(self, batch: Mapping[str, Any]) -> list[dict[str, torch.Tensor]]:
        """Eval-mode detections of ``batch`` (``inputs``, optional ``time_mask``)."""
        return self.detect(batch["inputs"], batch.get("time_mask"))

    def forward(self, inputs: Mapping[str, torch.Tensor],
                targets: list[dict[str, torch.Tensor]] | None = None,
                time_mask: torch.Tensor | None = None) -> Any:
        """Losses (training mode; needs ``targets``) or per-image detections (eval mode)."""
        if self.training:
            if targets is None:
                raise ConfigError("a detection model in training mode needs targets")
            return self.losses(inputs, targets, time_mask)
        return self.detect(inputs, time_mask)


def _detector_targets(targets: list[dict[str, torch.Tensor]]) -> list[dict[str, torch.Tensor]]:
    """torchvision's target types; degenerate boxes (x2 <= x1 or y2 <= y1) are an error, as in
    torchvision's ``GeneralizedRCNN``."""
    out = []
    for t in targets:
        d = {"boxes": t["boxes"].float().reshape(-1, 4), "labels": t["labels"].long()}
        if "masks" in t:
            d["masks"] = t["masks"].to(torch.uint8)
        out.append(d)
    if out:
        boxes = torch.cat([d["boxes"] for d in out])
        if boxes.numel() and bool((boxes[:, 2:] <= boxes[:, :2]).any()):
            bad = (boxes[:, 2:] <= boxes[:, :2]).any(dim=1).nonzero()[0, 0]
            raise ModelError(f"degenerate target box {boxes[bad].tolist()} (needs x2 > x1, y2 > y1)")
    return out
